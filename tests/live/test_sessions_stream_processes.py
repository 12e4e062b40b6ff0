"""The sessions stream across server processes on one PostgreSQL: changes made through one reach
a dashboard on another, also when its listener is killed or its server restarts in the middle;
and while PostgreSQL is down the stream stays open and says so."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from session_events.stream_outage import WAITING_TEXT
from support.live_server import LiveServer
from tests.conftest import WRITE
from tests.live.conftest import no_traceback
from tests.live.dashboard import Dashboard, all_sessions, append, create, delete, set_status
from tests.live.test_outage import TIMEOUTS, ready_again
from tests.live.test_two_processes import kill_listeners

# A status each session moves to next, until it is finished.
NEXT = {"pending": "in_progress", "in_progress": "paused", "paused": "failed"}


async def churn(http: httpx.AsyncClient, steps: int, seed: int) -> None:
    """Status changes, appends, new sessions and deletions through `http`."""
    chooser = random.Random(seed)
    statuses = {key: value["status"] for key, value in (await all_sessions(http)).items()}
    for _ in range(steps):
        walking = [s for s, status in statuses.items() if status in NEXT]
        action = chooser.random()
        if action < 0.5 and walking:
            session_id = chooser.choice(walking)
            statuses[session_id] = NEXT[statuses[session_id]]
            await set_status(http, session_id, statuses[session_id])
        elif action < 0.75 and statuses:
            await append(http, chooser.choice(list(statuses)), 2)
        elif action < 0.9:
            statuses[(await create(http))["id"]] = "pending"
        elif statuses:
            doomed = chooser.choice(list(statuses))
            await delete(http, doomed)
            del statuses[doomed]
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_restarted_stream_server_resumes_without_losing_a_status_change(live_server):
    streaming, writing = live_server(), live_server()
    async with (
        httpx.AsyncClient(base_url=streaming.base_url, timeout=30) as reader,
        httpx.AsyncClient(base_url=writing.base_url, timeout=30) as writer,
    ):
        for _ in range(6):
            await create(writer)
        async with Dashboard(reader) as before:
            await before.wait_event("snapshot")
            await churn(writer, 30, seed=1)
            # What the other process wrote arrives here, listener killed or not.
            assert await kill_listeners(writing.env["EVENTS_DATABASE_URL"]) >= 2
            await churn(writer, 30, seed=2)
            marker = await create(writer)
            await before.wait_event("session_created", marker["id"])
            assert before.sessions == await all_sessions(writer)

            streaming.stop()  # the stream breaks mid-way; changes go on meanwhile
            await churn(writer, 40, seed=3)
            streaming.start()

        async with Dashboard(
            reader, last_event_id=before.last_id, holding=before.sessions
        ) as after:
            marker = await create(writer)
            await after.wait_event("session_created", marker["id"])
            assert after.events("snapshot") == []
            assert after.sessions == await all_sessions(writer)
            await churn(writer, 20, seed=4)
            marker = await create(writer)
            await after.wait_event("session_created", marker["id"])
            assert after.sessions == await all_sessions(writer)
    no_traceback(streaming)


async def test_the_stream_stays_open_through_a_database_outage(own_postgres, tmp_path):
    url = own_postgres.create_database("sessions_outage")
    server = LiveServer(url, tmp_path / "server.log", **TIMEOUTS).start()
    try:
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
            Dashboard(http) as dashboard,
        ):
            await dashboard.wait_event("snapshot")
            await asyncio.to_thread(own_postgres.stop_server, "fast")
            await dashboard.wait_for(lambda m: m.get("comment") == WAITING_TEXT)
            await asyncio.to_thread(own_postgres.start_server)
            await ready_again(http)
            response = await http.post(
                "/api/v2/sessions", json={"session_type": "build"}, headers=WRITE
            )
            assert response.status_code == 201
            await dashboard.wait_event("session_created", response.json()["id"])
        assert '"status": 500' not in server.output()
        assert "Traceback" not in server.output()
    finally:
        server.stop()
