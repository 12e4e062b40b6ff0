"""What SQLite and PostgreSQL spell differently, one small method each; the rest is plain Core.

In the manner of Prefect's `database/query_components.py`: the queries are written once over
these methods (JSON building, greatest/least, the per-type upsert, NOTIFY, how a statement's
steps are run together).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Interval,
    String,
    Text,
    Uuid,
    cast,
    column,
    func,
    literal_column,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from session_events.db.notify import CHANNEL
from session_events.db.tables import UTCDateTime

DOCUMENT_TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _key(name: str) -> ColumnElement:
    return literal_column(f"'{name}'", String)


class QueryComponents:
    """The methods every dialect spells its own way."""

    name: str

    def uuid_text(self, column) -> ColumnElement:
        raise NotImplementedError

    def timestamp_text(self, column) -> ColumnElement:
        """2026-01-13T14:30:00.123456Z: UTC with six fractional digits."""
        raise NotImplementedError

    def json_object(self, *pairs) -> ColumnElement:
        raise NotImplementedError

    def as_text(self, json_value: ColumnElement) -> ColumnElement:
        """A JSON value built in SQL, read as its text (to embed in a body unparsed)."""
        return json_value

    def json_value(self, column) -> ColumnElement:
        """A stored JSON document, embedded as is."""
        return column

    def json_array(self, document: ColumnElement, where) -> ColumnElement:
        """The aggregate of the documents of rows meeting `where`, as one JSON array text (NULL
        or [] for none), in the order the rows come."""
        raise NotImplementedError

    def greatest(self, a, b) -> ColumnElement:
        return func.greatest(a, b)

    def least(self, a, b) -> ColumnElement:
        return func.least(a, b)

    def folded_contains(self, text, folded) -> ColumnElement:
        """Whether `text` (a column; NULL never does) contains `folded`, a text already folded
        by filters.fold_case, once the letters A to Z of `text` are folded to a to z."""
        return func.instr(func.lower(text), folded) > 0

    def plus_microseconds(self, stamp, microseconds) -> ColumnElement:
        """A stored timestamp (or NULL) moved on by a whole number of microseconds."""
        raise NotImplementedError

    def locked(self, query):
        """The query, locking the rows it reads until the transaction ends (where SQLite's
        writer does not hold the whole file already)."""
        return query

    def minute_of(self, stamp) -> ColumnElement:
        """The whole UTC minute a stored timestamp falls in, as an aware datetime (to GROUP BY)."""
        raise NotImplementedError

    def batch_rows(self, batch):
        """The rows of a JSON array of events (k, id, step_id, event_type, event_data, message;
        ids as text with dashes, event_data as its JSON text) as a table: a batch of any size is
        one parameter. (PostgreSQL's JSON functions refuse \\u0000 in any string they unpack, so
        the documents travel as strings.)"""
        raise NotImplementedError

    def uuids_of(self, ids):
        """The uuids of a JSON array of uuid texts, as a one-column select."""
        raise NotImplementedError

    def upsert(self, table):
        raise NotImplementedError

    def is_duplicate_event_id(self, error: Exception) -> bool:
        """Whether an IntegrityError is an event id already stored (ux_events_id)."""
        raise NotImplementedError

    def merge_ordered(self, branches: list, limit) -> list:
        """Ordered index ranges (one per event type), as members of a UNION ALL in seq order."""
        raise NotImplementedError

    def notify(self, payload) -> ColumnElement | None:
        """Tell every server process's listener at commit (PostgreSQL); None where none listen."""
        return None

    def together(self, answering, others: list, notify_payload) -> list:
        """The statements of one write, to run in order; the rows of the first are its answer.
        `notify_payload` is told to the listeners at commit where there are any."""
        return [answering, *others]

    def leading_row(self, query, name: str):
        """A one-row query that a later FROM item of the same statement reads (a page's bounds):
        (the FROM item, how that later item reads one of its columns). Here a CTE read by scalar
        subqueries, as SQLite has no LATERAL."""
        row = query.cte(name)
        return row, lambda column: select(column).scalar_subquery()

    def reading(self, query, name: str):
        """The later FROM item that reads a leading_row."""
        return query.subquery(name)

    def event_document(self, e) -> ColumnElement:
        """The event as the API serves it, from a row of events (or of anything shaped so)."""
        return self.json_object(
            ("id", self.uuid_text(e.id)),
            ("session_id", self.uuid_text(e.session_id)),
            ("seq", e.seq),
            ("step_id", self.uuid_text(e.step_id)),
            ("event_type", e.event_type),
            ("event_data", self.json_value(e.event_data)),
            ("message", e.message),
            ("timestamp", self.timestamp_text(e.timestamp)),
        )


class PostgresQueryComponents(QueryComponents):
    name = "postgresql"

    def uuid_text(self, column):
        return column

    def timestamp_text(self, column):
        # The zone and the format written into the statement, not bound: constants, as the
        # statement of 7fb2311 had them (each bound parameter costs the poll in the database).
        return func.to_char(
            func.timezone(literal_column("'UTC'"), column),
            literal_column(f"'{DOCUMENT_TIMESTAMP}'"),
        )

    def json_object(self, *pairs):
        return func.json_build_object(*(part for k, v in pairs for part in (_key(k), v)))

    def as_text(self, json_value):
        return cast(json_value, Text)

    def json_array(self, document, where):
        return cast(func.json_agg(document).filter(where), Text)

    def folded_contains(self, text, folded):
        # lower() folds A to Z alone under the "C" collation, whatever the database's locale.
        return func.strpos(func.lower(text.collate("C")), folded) > 0

    def plus_microseconds(self, stamp, microseconds):
        steps = literal_column("interval '1 microsecond'") * microseconds
        return stamp + type_coerce(steps, Interval)

    def locked(self, query):
        return query.with_for_update()

    def minute_of(self, stamp):
        # Literals, not bound parameters: the GROUP BY repeats the expression, and PostgreSQL
        # matches it to the select list's only when they are the same text.
        utc = func.timezone(literal_column("'UTC'"), stamp)
        return type_coerce(func.date_trunc(literal_column("'minute'"), utc), UTCDateTime)

    def batch_rows(self, batch):
        rows = func.json_to_recordset(cast(batch, JSON)).table_valued(
            column("k", BigInteger),
            column("id", Uuid),
            column("step_id", Uuid),
            column("event_type", Text),
            column("event_data", Text),
            column("message", Text),
        )
        rows = rows.render_derived(name="rows", with_types=True)
        data = cast(rows.c.event_data, JSON).label("event_data")
        return select(*(data if c.name == "event_data" else c for c in rows.c)).cte("batch")

    def uuids_of(self, ids):
        texts = func.json_array_elements_text(cast(ids, JSON)).table_valued("value")
        return select(cast(texts.c.value, Uuid))

    def upsert(self, table):
        return postgresql.insert(table)

    def is_duplicate_event_id(self, error):
        return '"ux_events_id"' in str(error.orig)

    def merge_ordered(self, branches, limit):
        # Each range is cut to the rows a page can need; PostgreSQL merges them (Merge Append).
        return [select(branch.limit(limit).subquery()) for branch in branches]

    def together(self, answering, others, notify_payload):
        # One statement, one round trip: every data-modifying CTE runs, referenced or not.
        # NOTIFY folds identical payloads of one transaction into one, so one per row is one.
        answer = answering.cte("answer")
        steps = [other.cte(f"step_{n}") for n, other in enumerate(others)]
        return [select(*answer.c, self.notify(notify_payload)).add_cte(*steps)]

    def notify(self, payload):
        return func.pg_notify(CHANNEL, payload)

    def leading_row(self, query, name):
        # A subquery joined LATERAL: PostgreSQL would materialize the CTE and read it through an
        # InitPlan per reference, which costs a poll more in the database than its events do.
        row = query.subquery(name)
        return row, lambda column: column

    def reading(self, query, name):
        return query.lateral(name)


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
        return func.json_object(*(part for k, v in pairs for part in (_key(k), v)))

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


_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
COMPONENTS = {c.name: c() for c in (PostgresQueryComponents, SqliteQueryComponents)}


def components(dialect_name: str) -> QueryComponents:
    return COMPONENTS[dialect_name]


def joined(left, right):
    """FROM left, right (both one row or the right one a single row)."""
    return left.join(right, true())
