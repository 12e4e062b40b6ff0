"""Apply the Alembic migrations in db/migrations, and tell whether a database is at the head."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from session_events.db.engine import Database, driver_url

MIGRATIONS = Path(__file__).parent / "migrations"
# Held while migrating so that several server processes starting at once migrate one at a time.
PG_MIGRATION_LOCK = 7_004_231_977


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    async with database.write() as conn:
        if database.backend == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
            await conn.execute(text("SET LOCAL statement_timeout = 0"))  # DDL may take long
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), "head"))


def _revision_of(sync_connection) -> str | None:
    return MigrationContext.configure(sync_connection).get_current_revision()


async def current_revision(database: Database) -> str | None:
    async with database.read() as conn:
        return await conn.run_sync(_revision_of)


class RevisionProbe:
    """Whether the database answers, and at which schema revision, for readiness checks.

    Each probe opens a connection of its own, outside the service's pool: a pool busy with
    woken long-polls and streams says nothing about the database, and a probe waiting behind
    them would take a healthy server out of rotation.
    """

    def __init__(self, database_url: str, *, timeout: float = 2.0):
        self.backend = database_url.split(":", 1)[0]
        self.head = head_revision()
        self.timeout = timeout
        connect_args = {"timeout": timeout} if self.backend == "postgresql" else {}
        self.engine = create_async_engine(
            driver_url(database_url), poolclass=NullPool, connect_args=connect_args
        )

    async def revision(self) -> str | None:
        """The schema revision; TimeoutError or the driver's error when the database does not
        answer within the timeout."""
        async with asyncio.timeout(self.timeout):
            async with self.engine.connect() as conn:
                return await conn.run_sync(_revision_of)
