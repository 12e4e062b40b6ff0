"""The database stops and starts again under a running server that keeps being read and written.

A PostgreSQL server of this test's own is stopped in the middle: requests get 503 with
Retry-After (never a 500, never a hang), /readyz says not ready, and once the database is back
the service recovers by itself. Producers retry with the same event ids until acknowledged: in
the end every acknowledged event is stored exactly once, with seq 1..N and no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import httpx
import pytest

from session_events.stream_outage import WAITING_TEXT as WAITING
from support.live_server import LiveServer
from tests.conftest import READ, WRITE
from tests.live.sse import sse_messages

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)

TIMEOUTS = {
    "EVENTS_DB_CONNECT_TIMEOUT": "2",
    "EVENTS_DB_STATEMENT_TIMEOUT": "2",
    "EVENTS_DB_POOL_TIMEOUT": "2",
}


class Producer:
    def __init__(self, http: httpx.AsyncClient, events_url: str):
        self.http, self.events_url = http, events_url
        self.acknowledged: set[str] = set()
        self.pending: list[str] = []
        self.statuses: list[int] = []

    async def append(self, event_id: str) -> int | None:
        """One try; the status, or None when the server could not be reached at all."""
        started = time.monotonic()
        try:
            response = await self.http.post(
                self.events_url,
                json={"events": [{"id": event_id, "event_type": "tick"}]},
                headers=WRITE,
            )
        except httpx.TransportError:
            return None
        assert time.monotonic() - started < 8, "a request hung instead of failing fast"
        assert response.status_code in (201, 503), response.text
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
        self.statuses.append(response.status_code)
        if response.status_code == 201:
            self.acknowledged.add(event_id)
        return response.status_code

    async def run(self, seconds: float, pause: float = 0.05) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            event_id = str(uuid.uuid4())
            if await self.append(event_id) != 201:
                self.pending.append(event_id)
            await asyncio.sleep(pause)

    async def retry_pending(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.pending and time.monotonic() < deadline:
            if await self.append(self.pending[0]) == 201:
                self.pending.pop(0)
            else:
                await asyncio.sleep(0.5)


async def read_until(http: httpx.AsyncClient, url: str, seconds: float) -> list[int]:
    statuses, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await http.get(url, headers=READ)
        assert response.status_code in (200, 503), response.text
        statuses.append(response.status_code)
        await asyncio.sleep(0.05)
    return statuses


async def list_all(http: httpx.AsyncClient, events_url: str) -> list[dict]:
    listed = []
    page = await http.get(f"{events_url}?order=asc&per_page=100", headers=READ)
    while True:
        listed += page.json()["items"]
        if not page.json()["pagination"]["has_next"]:
            return listed
        page = await http.get(page.links["next"]["url"], headers=READ)


@contextlib.asynccontextmanager
async def session_served(own_postgres, tmp_path, database: str):
    """A live server on a new database of the test's own PostgreSQL, a client, and the events
    URL of a new session; the server is stopped afterwards."""
    url = own_postgres.create_database(database)
    server = LiveServer(url, tmp_path / "server.log", **TIMEOUTS).start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            created = await http.post(
                "/api/v2/sessions", json={"session_type": "build"}, headers=WRITE
            )
            yield server, http, f"/api/v2/sessions/{created.json()['id']}/events"
    finally:
        server.stop()


async def ready_again(http: httpx.AsyncClient, within: float = 30) -> None:
    recovered_by = time.monotonic() + within
    while (await http.get("/readyz")).status_code != 200:
        assert time.monotonic() < recovered_by, "the service did not recover by itself"
        await asyncio.sleep(0.2)


async def test_a_database_restart_loses_nothing_and_needs_no_restart(own_postgres, tmp_path):
    async with session_served(own_postgres, tmp_path, "outage") as (server, http, events_url):
        producer = Producer(http, events_url)

        await producer.run(1.0)
        assert producer.statuses and set(producer.statuses) == {201}

        own_postgres.stop_server()
        down_reads, _ = await asyncio.gather(read_until(http, events_url, 3.0), producer.run(3.0))
        assert 503 in down_reads and 503 in producer.statuses
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200  # alive, just not ready

        own_postgres.start_server()
        await ready_again(http)
        await producer.run(1.0)
        await producer.retry_pending(30)
        assert producer.pending == []

        listed = await list_all(http, events_url)
        ids = [event["id"] for event in listed]
        assert sorted(ids) == sorted(producer.acknowledged)  # each acknowledged one, once
        assert [event["seq"] for event in listed] == list(range(1, len(listed) + 1))
        assert '"status": 500' not in server.output()


async def test_a_fast_stop_under_four_producers_is_only_503s(own_postgres, tmp_path):
    """`pg_ctl stop -m fast` while four producers append without pause: connections die with
    statements in flight. Every answer is 201 or 503 with Retry-After (Producer.append checks),
    none a 500; once the database is back, appends succeed again and nothing is lost or doubled."""
    async with session_served(own_postgres, tmp_path, "fast_stop") as (server, http, events_url):
        producers = [Producer(http, events_url) for _ in range(4)]

        async def outage() -> None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(own_postgres.stop_server, "fast")
            await asyncio.sleep(2.0)
            await asyncio.to_thread(own_postgres.start_server)

        await asyncio.gather(outage(), *(p.run(6.0, pause=0) for p in producers))
        statuses = [status for p in producers for status in p.statuses]
        assert 503 in statuses and 201 in statuses
        await ready_again(http)
        for producer in producers:
            producer.statuses.clear()
        await asyncio.gather(*(p.run(1.0) for p in producers))
        assert {s for p in producers for s in p.statuses} == {201}  # working again
        await asyncio.gather(*(p.retry_pending(30) for p in producers))
        assert all(p.pending == [] for p in producers)
        listed = await list_all(http, events_url)
        acknowledged = set().union(*(p.acknowledged for p in producers))
        assert sorted(event["id"] for event in listed) == sorted(acknowledged)
        assert [event["seq"] for event in listed] == list(range(1, len(listed) + 1))
        assert '"status": 500' not in server.output()


async def test_streams_wait_out_a_database_restart_and_carry_on(own_postgres, tmp_path):
    """Streams open while PostgreSQL stops: no traceback, no stream cut mid-way; each says in a
    comment that it waits, and once the database is back it sends what was appended."""
    async with session_served(own_postgres, tmp_path, "streams") as (server, http, events_url):
        await http.post(events_url, json={"events": [{"event_type": "a"}] * 3}, headers=WRITE)

        async def follow() -> list[dict]:
            async with http.stream("GET", f"{events_url}/stream", headers=READ) as response:
                messages = []
                async for message in sse_messages(response):
                    messages.append(message)
                    if message.get("id") == "4":
                        return messages
            return messages

        streams = [asyncio.create_task(follow()) for _ in range(5)]
        await asyncio.sleep(1)
        await asyncio.to_thread(own_postgres.stop_server, "fast")
        await asyncio.sleep(3)
        await asyncio.to_thread(own_postgres.start_server)
        await ready_again(http)
        appended = await http.post(
            events_url, json={"events": [{"event_type": "b"}]}, headers=WRITE
        )
        assert appended.status_code == 201
        for messages in await asyncio.wait_for(asyncio.gather(*streams), 30):
            assert [m["id"] for m in messages if "id" in m] == ["1", "2", "3", "4"]
            assert {"comment": WAITING} in messages
        output = server.output()
        for sign in ("Traceback", "never awaited", "response already started"):
            assert sign not in output, output[-3000:]
