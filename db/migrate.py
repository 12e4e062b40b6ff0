"""Apply the Alembic migrations in db/migrations, and tell whether a database is at the head."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from session_events.db.engine import Database, database_class
from session_events.db.urls import parse_database_url

MIGRATIONS = Path(__file__).parent / "migrations"


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
        await database.take_migration_turn(conn)
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
        kind = database_class(database_url)
        self.backend = kind.backend
        self.head = head_revision()
        self.timeout = timeout
        self.engine = kind.probe_engine(parse_database_url(database_url), timeout)

    async def revision(self) -> str | None:
        """The schema revision; TimeoutError or the driver's error when the database does not
        answer within the timeout."""
        async with asyncio.timeout(self.timeout):
            async with self.engine.connect() as conn:
                return await conn.run_sync(_revision_of)
