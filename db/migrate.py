"""Apply the Alembic migrations in db/migrations, and tell whether a database is at the head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from db.engine import Database

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


async def current_revision(database: Database) -> str | None:
    async with database.read() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
