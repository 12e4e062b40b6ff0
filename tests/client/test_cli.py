"""`session-events-client` as a shell script runs it, against a live server on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.live_server import WRITE_KEY
from support.pg_server import free_port

COMMAND = str(Path(sys.executable).parent / "session-events-client")


@pytest.fixture
def env(live_server):
    server = live_server()
    return {**os.environ, "EVENTS_URL": server.base_url, "EVENTS_API_KEY": WRITE_KEY}


def cli(env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [COMMAND, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_a_shell_script_produces_and_a_tail_follows_to_the_end(env):
    session_id = cli(env, "create", "--type", "build", "--project-path", "/repos/x").stdout.strip()
    tail = subprocess.Popen(
        [COMMAND, "tail", session_id, "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    human = subprocess.Popen(  # in local time: India's, half an hour off UTC's whole hours
        [COMMAND, "tail", session_id],
        env={**env, "TZ": "Asia/Kolkata"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert cli(env, "status", session_id, "--set", "in_progress").returncode == 0
    one = cli(env, "emit", session_id, "--type", "build_started", "--message", "mvn verify",
              "--data", '{"goal": "verify"}')  # fmt: skip
    assert (one.returncode, one.stdout.strip()) == (0, "2")
    lines = "".join(
        json.dumps({"event_type": "test_passed", "message": f"t{n}"}) + "\n" for n in range(250)
    )
    many = cli(env, "emit", session_id, "--stdin", stdin=lines)
    assert many.returncode == 0, many.stderr
    assert "250 events stored" in many.stderr
    assert cli(env, "status", session_id, "--set", "completed").returncode == 0
    out, _ = tail.communicate(timeout=30)
    assert tail.returncode == 0  # it ended with the session
    events = [json.loads(text) for text in out.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, 254))
    assert events[1]["event_data"] == {"goal": "verify"}
    shown, _ = human.communicate(timeout=30)
    assert human.returncode == 0
    second = shown.splitlines()[1].split()
    assert second[1].endswith("+05:30")  # the local time, with its zone
    assert second[2:] == ["2", "build_started", "mvn", "verify"]


@pytest.mark.parametrize(("ending", "code"), [("completed", 0), ("failed", 1), ("cancelled", 1)])
def test_wait_exits_by_how_the_session_ended(env, ending, code):
    session_id = cli(env, "create", "--type", "build").stdout.strip()
    waiting = subprocess.Popen([COMMAND, "wait", session_id, "--timeout", "30"], env=env,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    cli(env, "status", session_id, "--set", ending)
    out, _ = waiting.communicate(timeout=30)
    assert (waiting.returncode, out.strip()) == (code, ending)


def test_a_bad_line_of_stdin_is_named_and_what_came_before_is_stored(env):
    session_id = cli(env, "create", "--type", "build").stdout.strip()
    lines = '{"event_type": "log"}\n{"event_type": "Not-A-Type"}\n{"event_type": "log"}\n'
    result = cli(env, "emit", session_id, "--stdin", stdin=lines)
    assert result.returncode == 1
    assert "line 2 is no event" in result.stderr
    assert "1 events stored" in result.stderr


def test_wait_times_out_with_2(env):
    session_id = cli(env, "create", "--type", "build").stdout.strip()
    result = cli(env, "wait", session_id, "--timeout", "1")
    assert result.returncode == 2
    assert "still pending" in result.stderr


def test_a_refusal_prints_the_detail_and_exits_1(env):
    result = cli(env, "emit", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "--type", "log")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "session-events-client emit: Session not found: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    )


def test_an_unreachable_server_exits_3(env):
    result = cli({**env, "EVENTS_URL": f"http://127.0.0.1:{free_port()}"}, "create", "--type", "x")
    assert result.returncode == 3
    assert "cannot be reached" in result.stderr
