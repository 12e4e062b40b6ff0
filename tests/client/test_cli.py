"""`session-events-client` as a shell script runs it, against a live server on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.live_server import READ_KEY, WRITE_KEY
from support.pg_server import free_port

COMMAND = str(Path(sys.executable).parent / "session-events-client")


@pytest.fixture
def env(live_server):
    server = live_server()
    return {**os.environ, "EVENTS_URL": server.base_url, "EVENTS_API_KEY": WRITE_KEY}


def created(env) -> str:
    result = cli(env, "create", "--type", "build")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


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
    assert (one.returncode, one.stdout) == (0, "")
    assert one.stderr == f"Stored event 2 in session {session_id}.\n"
    lines = "".join(
        json.dumps({"event_type": "test_passed", "message": f"t{n}"}) + "\n" for n in range(250)
    )
    many = cli(env, "emit", session_id, "--stdin", stdin=lines)
    assert many.returncode == 0, many.stderr
    assert many.stderr == f"Stored 250 events in session {session_id}.\n"
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
    why = 'event_type must match the pattern ^[a-z_]+$ (got "Not-A-Type").'
    assert f"line 2 is no event: {why}" in result.stderr
    assert f"Stored 1 event in session {session_id}." in result.stderr


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


def test_emit_json_prints_the_stored_event_for_a_program(env):
    session_id = created(env)
    result = cli(env, "emit", session_id, "--type", "log", "--json")
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    assert (event["seq"], event["session_id"], event["event_type"]) == (1, session_id, "log")
    assert result.stderr == f"Stored event 1 in session {session_id}.\n"


def test_without_a_key_it_says_how_to_give_the_command_one(env):
    result = cli({**env, "EVENTS_API_KEY": ""}, "list")
    assert result.returncode == 1
    assert "EVENTS_API_KEY" in result.stderr
    assert "--key KEY list" in result.stderr


def test_a_url_of_the_api_itself_reaches_the_same_server(env):
    session_id = created(env)
    for url in (env["EVENTS_URL"] + "/api/v2", env["EVENTS_URL"] + "/api/v2/"):
        result = cli({**env, "EVENTS_URL": url}, "get", session_id, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["id"] == session_id


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"'])
def test_data_that_is_no_json_object_is_explained_with_an_example(env, data):
    result = cli(env, "emit", created(env), "--type", "log", "--data", data)
    assert result.returncode == 2
    assert "argument --data: the value must be a JSON object, such as" in result.stderr
    assert """--data '{"goal": "verify"}'""" in result.stderr
    assert "invalid loads value" not in result.stderr


def test_list_get_and_delete_sessions(env):
    first, second = created(env), created(env)
    assert cli(env, "status", second, "--set", "failed").returncode == 0
    listing = cli(env, "list", "--per-page", "1")
    assert listing.returncode == 0, listing.stderr
    header, row, where = listing.stdout.splitlines()
    assert header.split() == [
        "id", "status", "session_type", "event_count", "created_at", "project_path"
    ]  # fmt: skip
    assert row.split()[:4] == [second, "failed", "build", "1"]  # newest first
    assert where == "Page 1 of 2, 2 session(s) in all; --page 2 shows the next."
    failed = json.loads(cli(env, "list", "--status", "failed", "--json").stdout)
    assert [s["id"] for s in failed["items"]] == [second]
    assert failed["pagination"]["total"] == 1
    assert cli(env, "list", "--status", "paused").stdout == "No sessions are paused.\n"

    shown = cli(env, "get", first)
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert (fields["id"], fields["status"], fields["completed_at"]) == (first, "pending", "-")
    assert json.loads(cli(env, "get", first, "--json").stdout)["event_count"] == 0

    reader = cli({**env, "EVENTS_API_KEY": READ_KEY}, "delete", first)
    assert reader.returncode == 1
    assert "write key" in reader.stderr
    gone = cli(env, "delete", first)
    assert (gone.returncode, gone.stdout) == (0, "")
    assert gone.stderr == f"Deleted session {first} and all its events.\n"
    after = cli(env, "get", first)
    assert after.returncode == 1
    assert f"Session not found: {first}" in after.stderr


def test_url_and_key_work_after_the_command_too_and_a_key_is_never_echoed(env):
    session_id = created(env)
    bare = {**env, "EVENTS_URL": "http://127.0.0.1:9", "EVENTS_API_KEY": ""}
    result = cli(bare, "get", session_id, "--json", "--url", env["EVENTS_URL"], "--key", READ_KEY)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == session_id
    refused = cli(bare, "get", session_id, "--key", READ_KEY, "--nonsense")
    assert refused.returncode == 2
    assert READ_KEY not in refused.stderr or "--key" not in refused.stderr.split("error:")[-1]


def test_a_url_without_its_scheme_is_a_usage_error_saying_what_to_write(env):
    result = cli({**env, "EVENTS_URL": "127.0.0.1:8000"}, "list")
    assert result.returncode == 2
    assert "--url must start with http:// or https://, such as http://127.0.0.1:8000" in (
        result.stderr
    )
