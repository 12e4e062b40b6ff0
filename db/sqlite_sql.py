"""SQLite's spelling of the query components (db/query_components.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Text, cast, func, literal_column, select, type_coerce
from sqlalchemy.dialects import sqlite

from session_events.db.query_components import QueryComponents, json_key
from session_events.db.tables import UTCDateTime

_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


class SqliteQueryComponents(QueryComponents):
    name = "sqlite"

    def uuid_text(self, column):
        # Uuid is stored as 32 hex digits here; NULL stays NULL through the concatenation.
        parts = [func.substr(column, start, length) for start, length in _UUID_GROUPS]
        dashed = parts[0]
        for part in parts[1:]:
            dashed = dashed.concat("-").concat(part)
        return dashed

    def timestamp_text(self, column):
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (db/tables.UTCDateTime).
        return func.replace(column, " ", "T").concat("Z")

    def json_object(self, *pairs):
        return func.json_object(*(part for k, v in pairs for part in (json_key(k), v)))

    def json_value(self, column):
        # json() keeps the stored text's numbers and key order as they are.
        return func.json(column)

    def json_array(self, document, where):
        return func.json_group_array(func.json(document)).filter(where)

    def greatest(self, a, b):
        return func.max(a, b)

    def least(self, a, b):
        return func.min(a, b)

    def plus_microseconds(self, stamp, microseconds):
        # The text 'YYYY-MM-DD HH:MM:SS.ffffff' (db/tables.UTCDateTime) as whole microseconds
        # since the epoch, moved on, and written back in the same fixed width.
        seconds = cast(func.strftime("%s", func.substr(stamp, 1, 19)), BigInteger)
        total = seconds * 1_000_000 + cast(func.substr(stamp, 21, 6), BigInteger) + microseconds
        text = func.strftime("%Y-%m-%d %H:%M:%S", total // 1_000_000, "unixepoch").concat(
            func.printf(".%06d", total % 1_000_000)
        )
        return type_coerce(text, UTCDateTime)

    def minute_of(self, stamp):
        # 'YYYY-MM-DD HH:MM' of the fixed-width UTC text (db/tables.UTCDateTime), seconds zeroed.
        minute = func.substr(stamp, literal_column("1"), literal_column("16")).concat(
            literal_column("':00'")
        )
        return type_coerce(minute, UTCDateTime)

    def batch_rows(self, batch):
        each = func.json_each(batch).table_valued("value")

        def field(name: str, kind=Text):
            return type_coerce(func.json_extract(each.c.value, f"$.{name}"), kind).label(name)

        def uuid_hex(name: str):  # Uuid is stored as 32 hex digits here
            return func.replace(func.json_extract(each.c.value, f"$.{name}"), "-", "").label(name)

        return select(
            field("k", BigInteger),
            uuid_hex("id"),
            uuid_hex("step_id"),
            field("event_type"),
            field("event_data"),
            field("message"),
        ).cte("batch")

    def uuids_of(self, ids):
        each = func.json_each(ids).table_valued("value")
        return select(func.replace(each.c.value, "-", ""))

    def upsert(self, table):
        return sqlite.insert(table)

    def is_duplicate_event_id(self, error):
        return "UNIQUE constraint failed: events.id" in str(error.orig)

    def merge_ordered(self, branches, limit):
        # SQLite cannot cut members of a compound select, but merges ordered ones lazily.
        return [branch.order_by(None) for branch in branches]
