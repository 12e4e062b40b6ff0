"""The session query functions against real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from session_events.db import sessions as db_sessions
from session_events.db.errors import SessionAlreadyExists
from session_events.db.session_filters import SessionFilters

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)


async def test_create_reads_back_every_field(database):
    chosen = uuid.uuid4()
    async with database.write() as conn:
        await db_sessions.create_session(
            conn,
            session_type="build",
            session_id=chosen,
            project_path="/repos/x",
            config={"b": 1, "a": [None, "\u0000"]},
            now=T0,
        )
    async with database.read() as conn:
        session = dict(await db_sessions.read_session(conn, chosen))
    assert session == {
        "id": chosen,
        "session_type": "build",
        "status": "pending",
        "project_path": "/repos/x",
        "config": {"b": 1, "a": [None, "\u0000"]},
        "created_at": T0,
        "updated_at": T0,
        "last_seq": 0,
        "last_event_at": None,
        "completed_at": None,
        "last_message": None,
    }


async def test_a_taken_id_raises_and_keeps_the_first(database):
    chosen = uuid.uuid4()
    async with database.write() as conn:
        await db_sessions.create_session(conn, session_type="first", session_id=chosen)
    with pytest.raises(SessionAlreadyExists, match=str(chosen)):
        async with database.write() as conn:
            await db_sessions.create_session(conn, session_type="second", session_id=chosen)
    async with database.read() as conn:
        assert (await db_sessions.read_session(conn, chosen))["session_type"] == "first"


async def test_read_of_an_unknown_id_is_none(database):
    async with database.read() as conn:
        assert await db_sessions.read_session(conn, uuid.uuid4()) is None


async def test_list_is_newest_first_and_counts_by_status(database):
    async with database.write() as conn:
        for minute in range(5):
            await db_sessions.create_session(
                conn, session_type=f"t{minute}", now=T0 + timedelta(minutes=minute)
            )
    async with database.read() as conn:
        page = await db_sessions.list_sessions(conn, limit=2, offset=1)
        assert [s["session_type"] for s in page] == ["t3", "t2"]
        counts = await db_sessions.count_by_status(conn, SessionFilters(status="completed"))
        assert counts == {**dict.fromkeys(counts, 0), "pending": 5}
        completed = SessionFilters(status="completed")
        assert await db_sessions.list_sessions(conn, completed, limit=5, offset=0) == []
