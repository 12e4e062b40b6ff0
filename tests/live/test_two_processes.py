"""Two `serve` processes on one PostgreSQL: appends through one reach readers of the other, also
after the listener's connection has been killed (pg_terminate_backend)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from session_events.db.engine import open_database
from session_events.settings import Settings
from tests.conftest import READ, WRITE
from tests.live.sse import EventReader, read_events

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
TIMEOUT = 60


@pytest.fixture
async def writer_and_reader(live_server):
    servers = [live_server(), live_server()]
    async with (
        httpx.AsyncClient(base_url=servers[0].base_url, timeout=30) as writer,
        httpx.AsyncClient(base_url=servers[1].base_url, timeout=30) as reader,
    ):
        yield writer, reader


async def new_session(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
    return response.json()["id"]


async def append(http: httpx.AsyncClient, session_id: str, count: int) -> None:
    events = [{"event_type": "tick"}] * count
    response = await http.post(
        f"/api/v2/sessions/{session_id}/events", json={"events": events}, headers=WRITE
    )
    assert response.status_code == 201


async def kill_listeners(database_url: str) -> int:
    database = open_database(Settings(database_url=database_url))
    try:
        async with database.write() as conn:
            killed = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'session-events-listener'"
                )
            )
            return len(killed.all())
    finally:
        await database.dispose()


async def test_a_stream_on_one_process_gets_appends_made_through_the_other(writer_and_reader):
    writer, reader = writer_and_reader
    session_id = await new_session(writer)
    url = f"/api/v2/sessions/{session_id}/events/stream"
    async with reader.stream("GET", url, headers=READ) as response:

        async def appends():
            for _ in range(10):
                await append(writer, session_id, 5)
                await asyncio.sleep(0.05)

        appending = asyncio.create_task(appends())
        events = await asyncio.wait_for(read_events(response, until_seq=50), TIMEOUT)
        await appending
    assert [e["data"]["seq"] for e in events] == list(range(1, 51))


async def test_a_long_poll_on_one_process_returns_on_an_append_through_the_other(
    writer_and_reader,
):
    writer, reader = writer_and_reader
    session_id = await new_session(writer)
    url = f"/api/v2/sessions/{session_id}/events?order=asc&wait=20"

    async def append_soon():
        await asyncio.sleep(0.5)
        await append(writer, session_id, 1)

    response, _ = await asyncio.wait_for(
        asyncio.gather(reader.get(url, headers=READ), append_soon()), 15
    )
    assert [e["seq"] for e in response.json()["items"]] == [1]


async def test_delivery_survives_the_listener_connection_being_killed(
    writer_and_reader, database_url
):
    writer, reader = writer_and_reader
    session_id = await new_session(writer)
    url = f"/api/v2/sessions/{session_id}/events/stream"
    async with reader.stream("GET", url, headers=READ) as response:
        events = EventReader(response)
        await append(writer, session_id, 3)
        first = await asyncio.wait_for(events.read(count=3), TIMEOUT)
        assert await kill_listeners(database_url) >= 2  # one per server process (and this one)
        await append(writer, session_id, 3)  # possibly before the listeners are back
        await asyncio.sleep(0.3)
        await append(writer, session_id, 3)
        rest = await asyncio.wait_for(events.read(until_seq=9), TIMEOUT)
    assert [e["data"]["seq"] for e in first + rest] == list(range(1, 10))

    # and a long-poll through the reader is woken again once its listener is back
    poll = f"/api/v2/sessions/{session_id}/events?after_seq=9&order=asc&wait=20"

    async def append_soon():
        await asyncio.sleep(1.5)
        await append(writer, session_id, 1)

    response, _ = await asyncio.wait_for(
        asyncio.gather(reader.get(poll, headers=READ), append_soon()), 15
    )
    assert [e["seq"] for e in response.json()["items"]] == [10]


async def committed_transactions(database_url: str) -> int:
    database = open_database(Settings(database_url=database_url))
    try:
        async with database.read() as conn:
            query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            return (await conn.execute(text(query))).scalar()
    finally:
        await database.dispose()


async def test_a_quiet_stream_sends_heartbeats_without_reading_the_database(
    live_server, database_url
):
    server = live_server(EVENTS_STREAM_HEARTBEAT_SECONDS="0.1")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        session_id = await new_session(http)
        url = f"/api/v2/sessions/{session_id}/events/stream"
        async with http.stream("GET", url, headers=READ) as response:
            heartbeats = 0
            before = await committed_transactions(database_url)
            async for line in response.aiter_lines():
                heartbeats += line == ": heartbeat"
                if heartbeats == 60:  # six seconds of quiet
                    break
            after = await committed_transactions(database_url)
    # A stream reading on every heartbeat commits 60 statements or more here; what remains is
    # this test's own query, the liveness checks of every listener on this database, and the
    # counts other backends flush late (PostgreSQL's statistics lag up to 10 s: 19 once in 3 s).
    assert after - before < heartbeats / 2
