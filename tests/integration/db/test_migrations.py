"""Alembic migrations build exactly the schema db/tables.py declares, once, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from session_events.db import migrate
from session_events.db.tables import metadata


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
