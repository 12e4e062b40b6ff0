"""The sessions stream at its limits, driving the ASGI app directly on both backends: a resume
that would re-send too much, a rescan that finds too much, a client that falls behind, and a
stream opened while the database is down."""

from __future__ import annotations

import asyncio
import json

import pytest

from session_events.handlers import sessions_hub, sessions_stream
from session_events.stream_outage import WAITING
from tests.asgi import request
from tests.integration.api.test_stream_lifecycle import (
    app_on,
    new_session,
    outage_database,  # noqa: F401 (a fixture)
    running,
    streamed,
    when_up,
)

PATH = "/api/v2/sessions/stream"


def messages(body: bytes) -> list[dict]:
    """The stream's messages with an event, as dicts of their fields (data parsed)."""
    found = []
    for block in body.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in fields:
            found.append({**fields, "data": json.loads(fields["data"])})
    return found


async def test_a_resume_that_would_resend_too_much_is_a_snapshot_saying_so(
    database_url, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sessions_stream, "RESUME_MAX", 2)
    app = app_on(database_url)
    async with running(app) as state:
        first = await request(app, state, "GET", PATH, leave_after=0.3)
        [snapshot] = messages(streamed(first))
        made = [await new_session(app, state) for _ in range(3)]
        cursor = snapshot["id"].encode()
        resumed = await request(
            app, state, "GET", PATH, leave_after=0.3, headers=[(b"last-event-id", cursor)]
        )
    [fresh] = messages(streamed(resumed))
    assert fresh["event"] == "snapshot"
    assert fresh["data"]["reason"].startswith("More than 2 sessions changed since")
    assert [item["id"] for item in fresh["data"]["items"]] == made[::-1]


async def test_a_rescan_that_finds_too_much_asks_the_streams_to_reconnect(
    database_url, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sessions_hub, "RESCAN_MAX", 1)
    app = app_on(database_url)
    async with running(app) as state:
        reading = asyncio.create_task(request(app, state, "GET", PATH, leave_after=10))
        await asyncio.sleep(0.3)
        for _ in range(2):
            await new_session(app, state)
        await asyncio.sleep(0.3)
        state.notifier.wake_all()  # as when the listener comes back: look at everything
        sent = await asyncio.wait_for(reading, 5)
    assert streamed(sent).endswith(sessions_hub.LOST)


async def test_a_client_that_falls_behind_is_ended_with_a_comment(database_url):
    app = app_on(database_url, EVENTS_STREAM_QUEUE_BYTES="1024")
    async with running(app) as state:
        reading = asyncio.create_task(request(app, state, "GET", PATH, leave_after=10))
        await asyncio.sleep(0.3)
        for _ in range(8):  # more than 1,024 bytes of changes at once, none written yet
            await new_session(app, state)
        sent = await asyncio.wait_for(reading, 5)
    assert streamed(sent).endswith(sessions_hub.SLOW)
    assert sent[-1]["more_body"] is False


async def test_a_stream_opened_while_the_database_is_down_waits_for_its_snapshot(
    own_postgres,
    outage_database,  # noqa: F811
    service_logs,
):
    app = app_on(outage_database, EVENTS_DB_CONNECT_TIMEOUT="1", EVENTS_DB_POOL_TIMEOUT="1")
    async with running(app) as state:
        session_id = await new_session(app, state)
        await asyncio.to_thread(own_postgres.stop_server, "fast")
        reading = asyncio.create_task(request(app, state, "GET", PATH, leave_after=12))
        await asyncio.sleep(2.5)  # retries, each said in the stream
        await asyncio.to_thread(own_postgres.start_server)
        path = f"/api/v2/sessions/{session_id}"
        await when_up(app, state, "PATCH", path, {"status": "failed"})
        sent = await asyncio.wait_for(reading, 30)
    body = streamed(sent)
    assert body.count(WAITING) >= 2
    shown = {}
    for message in messages(body):  # as a dashboard applies them
        if message["event"] == "snapshot":
            shown = {item["id"]: item for item in message["data"]["items"]}
        else:
            shown[message["data"]["id"]] = message["data"]
    assert shown[session_id]["status"] == "failed"
    waiting = [line for line in service_logs if line["event"] == "stream_waiting_for_database"]
    assert len(waiting) == 1  # logged once an outage, not once a retry
