"""The service's database, its backend chosen from the parsed URL in one place.

`Database` (db/database.py) is what every backend shares; `SqliteDatabase` (db/sqlite.py) and
`PostgresDatabase` (db/postgres.py) are the two there are. The settings reach a Database
through `open_database` only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from session_events.db.database import Database
from session_events.db.postgres import PostgresDatabase
from session_events.db.sqlite import SqliteDatabase
from session_events.db.urls import parse_database_url

if TYPE_CHECKING:
    from session_events.settings import Settings

__all__ = ["DATABASES", "Database", "PostgresDatabase", "SqliteDatabase", "open_database"]

DATABASES: dict[str, type[Database]] = {
    kind.backend: kind for kind in (SqliteDatabase, PostgresDatabase)
}


def database_class(database_url: str) -> type[Database]:
    """The class of the backend the URL names (the one place that chooses)."""
    return DATABASES[parse_database_url(database_url).drivername]


def open_database(settings: Settings, **changes) -> Database:
    """The database the settings name, with their EVENTS_DB_* options (`changes` replace
    settings for this one, e.g. db_pool_size=1)."""
    settings = replace(settings, **changes)
    url = parse_database_url(settings.database_url)
    kind = DATABASES[url.drivername]
    return kind(
        url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout=settings.db_statement_timeout,
        connect_timeout=settings.db_connect_timeout,
        **kind.options_of(settings),
    )
