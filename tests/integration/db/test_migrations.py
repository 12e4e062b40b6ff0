"""Alembic migrations build exactly the schema db/tables.py declares, once, on both backends."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from session_events.db import migrate
from session_events.db import sessions as db_sessions
from session_events.db.appends import append_events
from session_events.db.statements import CoreRunner
from session_events.db.tables import metadata, sessions


async def test_database_is_at_the_head_revision(database):
    assert await migrate.current_revision(database) == migrate.head_revision()


async def test_upgrading_twice_changes_nothing(database):
    await migrate.upgrade(database)
    assert await migrate.current_revision(database) == migrate.head_revision()


async def test_migrated_schema_matches_the_declared_tables(database):
    def differences(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with database.read() as conn:
        assert await conn.run_sync(differences) == []


async def test_0005_gives_stored_sessions_their_last_message(database):
    """Sessions stored before 0005 get the message of their newest event that has one."""
    with_messages, without, empty = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with database.write() as conn:
        for session_id in (with_messages, without, empty):
            await db_sessions.create_session(conn, session_type="build", session_id=session_id)
        batch = [{"event_type": "a", "message": "older"}, {"event_type": "b", "message": "newest"}]
        await append_events(CoreRunner(conn), session_id=with_messages, new_events=batch)
        await append_events(
            CoreRunner(conn), session_id=with_messages, new_events=[{"event_type": "c"}]
        )
        await append_events(CoreRunner(conn), session_id=without, new_events=[{"event_type": "c"}])
        # The schema as 0004 left it, these rows in it.
        await conn.execute(text("ALTER TABLE sessions DROP COLUMN last_message"))
        await conn.execute(text("DROP TABLE session_tokens"))  # made by 0006, after 0005
        await conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))

    await migrate.upgrade(database)

    async with database.read() as conn:
        rows = await conn.execute(select(sessions.c.id, sessions.c.last_message))
        found = dict(rows.all())
    assert found == {with_messages: "newest", without: None, empty: None}
