"""SIGTERM while producers append batches and clients wait on a stream and a long-poll.

The server stops accepting, lets every append in flight finish (answered with 201 and stored) or
never starts it (not stored: batches are atomic), answers the long-poll, ends the stream cleanly,
and exits well before its shutdown timeout.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from session_events.db.engine import open_database
from session_events.db.tables import events
from session_events.settings import Settings
from tests.conftest import READ, WRITE
from tests.live.sse import sse_messages

BATCH = 300
PRODUCERS = 4


async def stored_ids(database_url: str, session_id: str) -> set[str]:
    database = open_database(Settings(database_url=database_url))
    try:
        async with database.read() as conn:
            query = select(events.c.id).where(events.c.session_id == uuid.UUID(session_id))
            return {str(event_id) for event_id in (await conn.execute(query)).scalars()}
    finally:
        await database.dispose()


async def test_sigterm_finishes_or_refuses_each_append_and_ends_waits(live_server, database_url):
    server = live_server(EVENTS_SHUTDOWN_TIMEOUT="20", EVENTS_LOG_LEVEL="info")
    answered: dict[str, list[str]] = {}  # 201 -> the batch's ids
    refused: list[list[str]] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        created = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
        session_id = created.json()["id"]
        events_url = f"/api/v2/sessions/{session_id}/events"
        stop = asyncio.Event()

        async def producer() -> None:
            while not stop.is_set():
                ids = [str(uuid.uuid4()) for _ in range(BATCH)]
                body = {
                    "events": [
                        {"id": i, "event_type": "tick", "event_data": {"p": "x" * 200}} for i in ids
                    ]
                }
                try:
                    response = await http.post(events_url, json=body, headers=WRITE)
                except httpx.TransportError:
                    refused.append(ids)
                    return
                if response.status_code == 201:
                    answered[ids[0]] = ids
                else:
                    refused.append(ids)
                    return

        async def stream_reader() -> list[dict]:
            messages = []
            async with http.stream("GET", f"{events_url}/stream?after_seq=0", headers=READ) as r:
                async for message in sse_messages(r):
                    messages.append(message)
            return messages  # ends when the server ends the stream

        async def long_poll() -> int:
            response = await http.get(
                f"{events_url}?after_seq=999999999&order=asc&wait=30", headers=READ
            )
            return response.status_code

        producers = [asyncio.create_task(producer()) for _ in range(PRODUCERS)]
        streaming = asyncio.create_task(stream_reader())
        polling = asyncio.create_task(long_poll())
        await asyncio.sleep(1.5)
        server.process.terminate()  # SIGTERM
        signalled = time.monotonic()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*producers), 30)
        messages = await asyncio.wait_for(streaming, 30)
        poll_status = await asyncio.wait_for(polling, 30)
        server.process.wait(timeout=30)
        assert "Application shutdown complete" in server.output()
        exited_after = time.monotonic() - signalled

    assert answered, "no batch was appended before the signal"
    assert exited_after < 10, f"the server took {exited_after:.1f}s to stop"
    assert poll_status == 200
    assert messages and messages[0] == {"retry": "3000"}
    stored = await stored_ids(database_url, session_id)
    for ids in answered.values():
        assert set(ids) <= stored  # answered: stored, all of it
    for ids in refused:
        assert not set(ids) & stored  # not answered: nothing of it
    assert len(stored) == BATCH * len(answered)
    assert "Traceback" not in server.output(), server.output()[-3000:]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_demo_stops_with_the_server(live_server):
    server = live_server("--demo", EVENTS_LOG_LEVEL="info")
    time.sleep(1)
    server.process.terminate()
    # uvicorn re-raises the signal once it has shut down, so the exit status says SIGTERM
    assert server.process.wait(timeout=15) in (0, -15)
    assert "Application shutdown complete" in server.output()
