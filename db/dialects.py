"""The query components (db/query_components.py) each database's dialect uses."""

from __future__ import annotations

from session_events.db.postgres_sql import PostgresQueryComponents
from session_events.db.query_components import QueryComponents
from session_events.db.sqlite_sql import SqliteQueryComponents

COMPONENTS = {c.name: c() for c in (PostgresQueryComponents, SqliteQueryComponents)}


def components(dialect_name: str) -> QueryComponents:
    return COMPONENTS[dialect_name]
