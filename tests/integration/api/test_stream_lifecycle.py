"""How a stream lives and ends, driving the ASGI app directly on both backends (the live tests in
tests/live/test_stream_endings.py and test_outage.py hold a real server to the same): quiet
streams send heartbeats, a deleted session ends its streams (also when another is made under
its id), and a database outage is waited out with a comment a second."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from session_events.app import create_app
from session_events.db import sessions as db_sessions
from session_events.settings import load_settings
from session_events.stream_outage import WAITING
from tests.asgi import request, running
from tests.conftest import READ_KEY, WRITE_KEY, reset_database


async def new_session(app, state, session_id: str | None = None) -> str:
    body = {"session_type": "x", **({"id": session_id} if session_id else {})}
    created = await request(
        app, state, "POST", "/api/v2/sessions", body=json.dumps(body).encode(), key=WRITE_KEY
    )
    return json.loads(created[1]["body"])["id"]


async def append(app, state, session_id: str, count: int = 1) -> None:
    body = json.dumps({"events": [{"event_type": "tick"}] * count}).encode()
    path = f"/api/v2/sessions/{session_id}/events"
    answer = await request(app, state, "POST", path, body=body, key=WRITE_KEY)
    assert answer[0]["status"] == 201


def streamed(sent: list[dict]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent[1:])


def ids(body: bytes) -> list[int]:
    return [int(line[4:]) for line in body.split(b"\n") if line.startswith(b"id: ")]


async def streaming(app, state, events: int, leave_after: float):
    """A new session with `events` events, and the task reading its stream, once started."""
    session_id = await new_session(app, state)
    await append(app, state, session_id, events)
    path = f"/api/v2/sessions/{session_id}/events/stream"
    task = asyncio.create_task(request(app, state, "GET", path, leave_after=leave_after))
    await asyncio.sleep(0.3)
    return session_id, path, task


def app_on(database_url: str, **settings: str):
    return create_app(
        load_settings(
            {
                "EVENTS_DATABASE_URL": database_url,
                "EVENTS_READ_KEYS": READ_KEY,
                "EVENTS_WRITE_KEYS": WRITE_KEY,
                **settings,
            }
        )
    )


async def test_a_quiet_stream_sends_heartbeats(database_url):
    app = app_on(database_url, EVENTS_STREAM_HEARTBEAT_SECONDS="0.1")
    async with running(app) as state:
        session_id = await new_session(app, state)
        path = f"/api/v2/sessions/{session_id}/events/stream"
        sent = await request(app, state, "GET", path, leave_after=0.45)
    assert streamed(sent).count(b": heartbeat\n\n") >= 3


async def test_a_stream_ends_when_its_session_is_deleted_and_made_again(database_url):
    app = app_on(database_url)
    async with running(app) as state:
        session_id, _path, reading = await streaming(app, state, 3, leave_after=10)
        async with state.database.write() as conn:  # deleted and made again, at once
            await db_sessions.delete_session(conn, uuid.UUID(session_id))
            await db_sessions.create_session(
                conn, session_type="x", session_id=uuid.UUID(session_id)
            )
        await append(app, state, session_id, 5)  # wakes the stream (on SQLite, in process)
        sent = await asyncio.wait_for(reading, timeout=5)
    assert ids(streamed(sent)) == [1, 2, 3]
    assert streamed(sent).endswith(b": the session was deleted\n\n")
    assert sent[-1]["more_body"] is False


@pytest.fixture
def outage_database(own_postgres):
    url = own_postgres.create_database("stream_outage")
    asyncio.run(reset_database(url))
    return url


async def test_a_stream_waits_out_a_database_outage(own_postgres, outage_database, service_logs):
    app = app_on(outage_database, EVENTS_DB_CONNECT_TIMEOUT="1", EVENTS_DB_POOL_TIMEOUT="1")
    async with running(app) as state:
        _session_id, path, reading = await streaming(app, state, 2, leave_after=30)
        await asyncio.to_thread(own_postgres.stop_server, "fast")
        await asyncio.sleep(2.5)  # retries, each said in the stream
        await asyncio.to_thread(own_postgres.start_server)
        await when_up(app, state, "POST", f"{path[:-7]}", {"events": [{"event_type": "tick"}]})
        await when_up(app, state, "PATCH", path[: -len("/events/stream")], {"status": "failed"})
        sent = await asyncio.wait_for(reading, timeout=30)
    body = streamed(sent)
    assert ids(body) == [1, 2, 3, 4]  # the two, the one appended after, the status change
    assert body.count(WAITING) >= 2
    assert sent[-1]["more_body"] is False
    waits = [line for line in service_logs if line["event"] == "stream_waiting_for_database"]
    assert len(waits) == 1  # logged once an outage, not once a retry


async def when_up(app, state, method: str, path: str, document: dict) -> None:
    """The request, retried through its 503s until the database is back (up to 30 s)."""
    body = json.dumps(document).encode()
    for _ in range(60):
        answer = await request(app, state, method, path, body=body, key=WRITE_KEY)
        if answer[0]["status"] in (200, 201):
            return
        assert answer[0]["status"] == 503
        await asyncio.sleep(0.5)
    raise AssertionError("the database did not come back")


async def test_a_stream_ends_at_the_terminal_status_not_at_an_event_that_looks_like_it(
    database_url,
):
    """A producer may append a `status_changed` event of its own: the hub asks the session's
    row before it ends the streams."""
    app = app_on(database_url)
    async with running(app) as state:
        session_id, path, reading = await streaming(app, state, 1, leave_after=10)
        forged = {"event_type": "status_changed", "event_data": {"new_status": "completed"}}
        body = json.dumps({"events": [forged, {"event_type": "tick"}]}).encode()
        await request(app, state, "POST", path[: -len("/stream")], body=body, key=WRITE_KEY)
        await asyncio.sleep(0.3)
        assert not reading.done()  # still open: the session is pending
        done = json.dumps({"status": "completed"}).encode()
        await request(
            app, state, "PATCH", f"/api/v2/sessions/{session_id}", body=done, key=WRITE_KEY
        )
        sent = await asyncio.wait_for(reading, timeout=5)
    assert ids(streamed(sent)) == [1, 2, 3, 4]  # the tick, the look-alike, a tick, the change
    assert sent[-1]["more_body"] is False
