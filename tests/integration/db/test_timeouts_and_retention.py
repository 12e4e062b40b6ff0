"""Statement timeouts, deleting sessions, and pruning finished ones, on both backends."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from session_events.db import appends as db_appends
from session_events.db import sessions as db_sessions
from session_events.db.engine import open_database
from session_events.db.errors import is_unavailable
from session_events.db.statements import CoreRunner
from session_events.prune import prune
from session_events.settings import Settings

SLOW = {
    "postgresql": "SELECT pg_sleep(3)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1e9) "
    "SELECT count(*) FROM c",
}
LONG_AGO = datetime.now(UTC) - timedelta(days=40)


async def test_a_statement_past_its_timeout_is_stopped_as_an_outage(database_url):
    database = open_database(Settings(database_url=database_url, db_statement_timeout=0.3))
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            async with database.read() as conn:
                await conn.execute(text(SLOW[database.backend]))
        assert time.monotonic() - started < 2
        assert is_unavailable(raised.value)
        async with database.read() as conn:  # the connection is usable again
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await database.dispose()


async def test_appended_counts_only_what_it_stored(database):
    async with database.write() as conn:
        session_id = (await db_sessions.create_session(conn, session_type="t"))["id"]
    given = uuid.uuid4()
    for expected in (2, 1):
        async with database.write() as conn:
            appended = await db_appends.append_events(
                CoreRunner(conn),
                session_id=session_id,
                new_events=[{"event_type": "a", "id": given}, {"event_type": "b"}],
            )
        assert (len(appended.documents), appended.stored) == (2, expected)


async def test_delete_session_takes_its_events_in_chunks(database):
    async with database.write() as conn:
        session_id = (await db_sessions.create_session(conn, session_type="t"))["id"]
        await db_appends.append_events(
            CoreRunner(conn), session_id=session_id, new_events=[{"event_type": "a"}] * 25
        )
    async with database.write() as conn:
        assert await db_sessions.delete_session(conn, session_id, chunk=10) == 25
    async with database.write() as conn:
        assert await db_sessions.delete_session(conn, session_id) is None
    async with database.read() as conn:
        left = await conn.execute(text("SELECT count(*) FROM events"))
        assert left.scalar() == 0


async def make_session(database, status: str, *, when: datetime, events: int = 3) -> uuid.UUID:
    async with database.write() as conn:
        session_id = (await db_sessions.create_session(conn, session_type="t", now=when))["id"]
        await db_appends.append_events(
            CoreRunner(conn),
            session_id=session_id,
            new_events=[{"event_type": "a"}] * events,
            now=when,
        )
        path = {"in_progress": ["in_progress"], "paused": ["in_progress", "paused"]}
        for step in path.get(status, [] if status == "pending" else [status]):
            await db_sessions.update_session_status(conn, session_id, step, now=when)
    return session_id


async def survivors(database) -> set[uuid.UUID]:
    async with database.read() as conn:
        return set((await conn.execute(text("SELECT id FROM sessions"))).scalars())


async def test_prune_removes_old_finished_sessions_and_leaves_live_ones(database):
    old = {s: await make_session(database, s, when=LONG_AGO) for s in db_sessions.NEXT_STATUSES}
    recent = await make_session(database, "completed", when=datetime.now(UTC))
    removed = await prune(database, timedelta(days=30), db_sessions.TERMINAL, batch=2)
    assert removed == (3, 3 * 4)  # three sessions, each 3 events + its status_changed
    kept = {old["pending"], old["in_progress"], old["paused"], recent}
    assert {uuid.UUID(str(s)) for s in await survivors(database)} == kept


async def test_prune_by_status_takes_only_those(database):
    failed = await make_session(database, "failed", when=LONG_AGO)
    completed = await make_session(database, "completed", when=LONG_AGO)
    assert await prune(database, timedelta(days=30), ("failed",)) == (1, 4)
    assert {uuid.UUID(str(s)) for s in await survivors(database)} == {completed}
    assert failed not in await survivors(database)


async def test_a_dry_run_finds_what_prune_would_remove_and_removes_nothing(database):
    old = [await make_session(database, "completed", when=LONG_AGO, events=n) for n in (2, 5, 1)]
    await make_session(database, "completed", when=datetime.now(UTC))
    seen, totals = [], []
    found = await prune(
        database,
        timedelta(days=30),
        db_sessions.TERMINAL,
        batch=2,
        dry_run=True,
        found=seen.append,
        progress=lambda sessions, events: totals.append((sessions, events)),
    )
    assert found == (3, (2 + 1) + (5 + 1) + (1 + 1))  # each with its status_changed event
    assert sorted(uuid.UUID(str(s.id)) for s in seen) == sorted(old)
    assert totals == [(2, seen[0].events + seen[1].events), (3, 11)]  # after each batch of 2
    assert len(await survivors(database)) == 4
    assert await prune(database, timedelta(days=30), db_sessions.TERMINAL) == found
