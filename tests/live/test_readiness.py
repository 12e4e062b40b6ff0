"""/readyz through a real server process: it says whether the database answers, on a connection
of its own, not whether the service's pool has a connection free."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text

from session_events.db.engine import database_class
from session_events.db.urls import parse_database_url
from tests.conftest import READ, WRITE


async def new_session(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
    return response.json()["id"]


async def ready(http: httpx.AsyncClient) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = await http.get("/readyz", timeout=10)
    return response.status_code, response.json(), time.monotonic() - started


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_readyz_answers_at_once_while_every_pooled_connection_is_busy(
    live_server, database_url
):
    """Appends waiting on a session row locked from outside hold both of the pool's connections;
    a read of the API queues behind them, /readyz does not."""
    server = live_server(
        EVENTS_DB_POOL_SIZE="2", EVENTS_DB_POOL_TIMEOUT="20", EVENTS_DB_STATEMENT_TIMEOUT="20"
    )
    outside = database_class(database_url).engine(parse_database_url(database_url))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        session_id = await new_session(http)
        events = f"/api/v2/sessions/{session_id}/events"
        try:
            async with outside.connect() as conn:
                await conn.execute(
                    text("SELECT 1 FROM sessions WHERE id = :id FOR UPDATE"), {"id": session_id}
                )
                appends = [
                    asyncio.create_task(
                        http.post(events, json={"events": [{"event_type": "x"}]}, headers=WRITE)
                    )
                    for _ in range(4)
                ]
                await asyncio.sleep(1)
                with pytest.raises(httpx.TimeoutException):  # the pool is taken
                    await http.get(f"/api/v2/sessions/{session_id}", headers=READ, timeout=1)
                status, body, seconds = await ready(http)
                assert (status, body["status"], body["database"]) == (200, "ready", "postgresql")
                assert seconds < 1
                await conn.rollback()
            assert [(await append).status_code for append in appends] == [201] * 4
        finally:
            await outside.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_readyz_is_503_while_the_sqlite_file_is_gone_and_200_once_it_is_back(
    live_server, tmp_path
):
    directory = tmp_path / "data"
    server = live_server(EVENTS_DATABASE_URL=f"sqlite:///{directory}/events.db")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        status, body, _ = await ready(http)
        assert (status, body["status"], body["database"]) == (200, "ready", "sqlite")
        directory.rename(tmp_path / "elsewhere")
        try:
            status, body, seconds = await ready(http)
            assert status == 503
            assert body["detail"].startswith("The database cannot be reached (")
            assert seconds < 3
            assert not directory.exists()  # looking for the file made nothing
        finally:
            (tmp_path / "elsewhere").rename(directory)
        assert (await ready(http))[0] == 200


async def test_readyz_names_the_backend_and_the_schema_revision(live_server, database_url):
    server = live_server()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        status, body, _ = await ready(http)
    assert status == 200
    assert body["database"] == database_url.split(":", 1)[0]
    assert body["revision"]


async def test_readiness_probes_write_nothing_to_the_log(live_server, database_url):
    server = live_server(EVENTS_LOG_LEVEL="info")  # as `make run` logs
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        before = server.output_once_it_shows("Viewer:")
        for _ in range(3):
            status, _, _ = await ready(http)
            assert status == 200
        await http.get("/healthz")
    assert server.output() == before  # no access line, and none of Alembic's
