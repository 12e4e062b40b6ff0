"""follow_sessions() and `watch` reading the sessions stream over a real socket: the contract's
example stream parsed into typed changes, a stream that ends resumed with `Last-Event-ID`, a
fresh snapshot's reason shown, Ctrl-C ending `watch` with 0. The answers come from a scripted
server (scripted_stream.py) speaking the contract's examples; test_watch.py runs the real one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from session_events_client import AsyncClient, Client, Created, Deleted, Snapshot, Updated

from tests.client.processes import interruptible
from tests.client.scripted_stream import Answer, ScriptedStream, example_session, example_stream
from tests.client.scripted_stream import message as sse

COMMAND = str(Path(sys.executable).parent / "session-events-client")
SESSION_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"  # the contract's example session
LAST_OF_EXAMPLE = "1768314601000002"  # the id of the example's last event
NEW_ID = str(uuid.uuid4())


def resumed_after_the_example(*more: bytes) -> list[Answer]:
    """The contract's example, which then ends; the next connection gets `more`, held open."""
    later = sse("1768314602000001", "session_deleted", {"id": SESSION_ID})
    made = sse("1768314603000001", "session_created", example_session(id=NEW_ID, status="pending"))
    return [Answer(example_stream()), Answer(later + made + b"".join(more), hold=True)]


def test_the_contract_example_parses_and_a_stream_that_ends_resumes_after_its_last_id():
    with ScriptedStream(resumed_after_the_example()) as server, Client(server.base_url) as client:
        changes = []
        for change in client.follow_sessions("in_progress", ["test_generation", "build"], 20):
            changes.append(change)
            if len(changes) == 4:
                break
    snapshot, updated, deleted, created = changes
    assert [type(change) for change in changes] == [Snapshot, Updated, Deleted, Created]
    assert [s.id for s in snapshot.sessions] == [uuid.UUID(SESSION_ID)]
    assert snapshot.reason is None and snapshot.cursor == "1768314600123456"
    assert (updated.session.event_count, updated.cursor) == (2, LAST_OF_EXAMPLE)
    assert deleted.id == uuid.UUID(SESSION_ID)
    assert (created.session.id, created.session.status) == (uuid.UUID(NEW_ID), "pending")
    (first, first_headers), (second, second_headers) = server.requests
    assert "last-event-id" not in first_headers
    assert second_headers["last-event-id"] == LAST_OF_EXAMPLE
    assert first_headers["accept"] == "text/event-stream"
    query = parse_qs(urlsplit(first).query)
    assert urlsplit(first).path == "/api/v2/sessions/stream"
    assert query == {"status": ["in_progress"], "session_type": ["test_generation", "build"],
                     "limit": ["20"]}  # fmt: skip
    assert parse_qs(urlsplit(second).query) == query


async def test_the_async_client_follows_the_sessions_the_same_way():
    with ScriptedStream(resumed_after_the_example()) as server:
        async with AsyncClient(server.base_url) as client:
            changes = []
            async for change in client.follow_sessions():
                changes.append(change)
                if len(changes) == 4:
                    break
    assert [type(change) for change in changes] == [Snapshot, Updated, Deleted, Created]
    assert server.requests[1][1]["last-event-id"] == LAST_OF_EXAMPLE


def test_a_cursor_from_an_earlier_process_resumes_after_it():
    with ScriptedStream(resumed_after_the_example()) as server, Client(server.base_url) as client:
        change = next(iter(client.follow_sessions(cursor=LAST_OF_EXAMPLE)))
    assert isinstance(change, Snapshot)  # the script's first answer; what counts is the ask:
    assert server.requests[0][1]["last-event-id"] == LAST_OF_EXAMPLE


def watching(url: str, *args: str) -> subprocess.Popen:
    return interruptible(
        [COMMAND, "watch", "--url", url, "--key", "k", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": str(Path(sys.executable).parent), "TZ": "UTC"},
    )


def interrupted(process: subprocess.Popen, lines: int) -> tuple[list[str], str]:
    """The first `lines` lines it printed, then what it says once Ctrl-C ended it."""
    out = [process.stdout.readline().rstrip("\n") for _ in range(lines)]
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=20)
    return out + rest.splitlines(), err


def test_watch_prints_the_snapshot_as_a_table_then_a_line_a_change_and_ctrl_c_exits_0():
    reason = "the cursor is older than the deletions kept"
    fresh = sse("1768314604000001", "snapshot", {"items": [example_session()], "reason": reason})
    with ScriptedStream(resumed_after_the_example(fresh)) as server:
        watch = watching(server.base_url)
        out, err = interrupted(watch, 7)
    assert watch.returncode == 0
    assert "Traceback" not in err
    header, row, updated, deleted, created, *again = out
    assert header.split() == [
        "id", "status", "session_type", "event_count", "created_at", "project_path"
    ]  # fmt: skip
    assert row.split()[:4] == [SESSION_ID, "in_progress", "test_generation", "0"]
    assert updated.split() == ["2026-01-13", "14:30:01.000+00:00", SESSION_ID, "updated",
                               "test_generation", "in_progress", "2", "events"]  # fmt: skip
    assert deleted.split()[2:] == [SESSION_ID, "deleted"]
    assert created.split()[2:] == [NEW_ID, "created", "test_generation", "pending", "0", "events"]
    assert again[0].split()[0] == "id" and again[1].split()[0] == SESSION_ID  # the fresh one
    assert f"A fresh snapshot, since {reason}" in err


def test_watch_json_prints_each_message_as_one_document():
    with ScriptedStream(resumed_after_the_example()) as server:
        watch = watching(server.base_url, "--json")
        out, _ = interrupted(watch, 4)
    assert watch.returncode == 0
    documents = [json.loads(line) for line in out]
    events = [(d["event"], d["id"]) for d in documents]
    assert events[:2] == [("snapshot", "1768314600123456"), ("session_updated", LAST_OF_EXAMPLE)]
    assert [event for event, _ in events[2:]] == ["session_deleted", "session_created"]
    example = example_stream().decode().split("\n\n")[1].split("data: ", 1)[1]
    assert documents[0]["data"] == json.loads(example)  # the snapshot as the server sent it


def test_a_refused_watch_prints_the_detail_and_exits_1():
    problem = {"type": "about:blank", "title": "Bad Request", "status": 400,
               "detail": "limit must be at most 1000 (got 5000)."}  # fmt: skip
    with ScriptedStream([Answer(json.dumps(problem).encode(), status=400)]) as server:
        watch = watching(server.base_url, "--limit", "5000")
        _, err = watch.communicate(timeout=20)
    assert watch.returncode == 1
    assert err.strip() == "session-events-client watch: limit must be at most 1000 (got 5000)."


@pytest.mark.parametrize("pause", [0.0, 0.3])
def test_ctrl_c_before_anything_arrived_exits_0_too(pause):
    with ScriptedStream([Answer(b"retry: 3000\n\n", hold=True)]) as server:
        watch = watching(server.base_url)
        while not server.requests:
            time.sleep(0.02)
        time.sleep(pause)
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=20)
    assert (watch.returncode, err) == (0, "")
