"""What the sessions stream reads, against real SQLite files and a real PostgreSQL database:
sessions by type, by id, changed since an instant; deletions' tombstones, kept for a while."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from session_events.db import sessions as db_sessions
from session_events.db.session_filters import SessionFilters

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)


async def make(database, session_type: str, at: datetime) -> uuid.UUID:
    async with database.write() as conn:
        row = await db_sessions.create_session(conn, session_type=session_type, now=at)
    return row["id"]


async def test_listing_by_several_types_newest_first(database):
    build = await make(database, "build", T0)
    agent = await make(database, "agent", T0 + timedelta(seconds=1))
    await make(database, "test_generation", T0 + timedelta(seconds=2))
    async with database.read() as conn:
        rows = await db_sessions.list_sessions(
            conn, SessionFilters(session_types=["build", "agent"]), limit=10, offset=0
        )
        pending = await db_sessions.list_sessions(
            conn, SessionFilters(status="pending", session_types=["agent"]), limit=10, offset=0
        )
    assert [row["id"] for row in rows] == [agent, build]
    assert [row["id"] for row in pending] == [agent]


async def test_changed_since_is_every_change_after_the_instant_oldest_first(database):
    old = await make(database, "build", T0)
    made = await make(database, "agent", T0 + timedelta(seconds=10))
    moved = await make(database, "build", T0 + timedelta(seconds=5))
    async with database.write() as conn:
        await db_sessions.update_session_status(
            conn, moved, "in_progress", now=T0 + timedelta(seconds=20)
        )
    async with database.read() as conn:
        rows, gone = await db_sessions.changed_since(conn, T0, limit=10)
        builds, _ = await db_sessions.changed_since(conn, T0, session_types=["build"], limit=10)
        first, _ = await db_sessions.changed_since(conn, T0, limit=1)
        both = await db_sessions.read_sessions(conn, [old, moved, uuid.uuid4()])
    assert [row["id"] for row in rows] == [made, moved] and gone == []
    assert [row["id"] for row in builds] == [moved]
    assert [row["id"] for row in first] == [made]
    assert {row["id"] for row in both} == {old, moved}


async def test_a_deletion_leaves_a_tombstone_and_old_ones_go(database):
    kept = timedelta(hours=1)
    first = await make(database, "build", T0)
    second = await make(database, "agent", T0)
    async with database.write() as conn:
        await db_sessions.delete_session(conn, first, tombstones_kept=kept)
    async with database.read() as conn:
        [tombstone] = await db_sessions.read_tombstones(conn, [first, second])
        _, gone = await db_sessions.changed_since(conn, T0, limit=10)
        _, of_agents = await db_sessions.changed_since(conn, T0, session_types=["agent"], limit=10)
    assert (tombstone["id"], tombstone["session_type"]) == (first, "build")
    assert tombstone["deleted_at"] > datetime.now(UTC) - timedelta(minutes=1)
    assert [row["id"] for row in gone] == [first] and of_agents == []

    # Made again under the same id and deleted again: one tombstone, the newer.
    async with database.write() as conn:
        await db_sessions.create_session(conn, session_type="agent", session_id=first)
        await db_sessions.delete_session(conn, first)
    async with database.read() as conn:
        [again] = await db_sessions.read_tombstones(conn, [first])
    assert again["session_type"] == "agent" and again["deleted_at"] > tombstone["deleted_at"]

    # A deletion prunes the tombstones older than it keeps them.
    async with database.write() as conn:
        await db_sessions.delete_session(conn, second, tombstones_kept=timedelta(0))
    async with database.read() as conn:
        remaining = await db_sessions.read_tombstones(conn, [first, second])
    assert [row["id"] for row in remaining] == [second]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_on_postgresql_creating_and_deleting_notify_every_listener(database):
    notifier = database.notifier()
    await notifier.start()
    try:
        await asyncio.wait_for(notifier.connected.wait(), 10)
        told = asyncio.Queue()
        with notifier.follow(told.put_nowait):
            session_id = await make(database, "build", T0)
            assert await asyncio.wait_for(told.get(), 10) == session_id
            async with database.write() as conn:
                await db_sessions.delete_session(conn, session_id)
            assert await asyncio.wait_for(told.get(), 10) == session_id
    finally:
        await notifier.stop()
