"""What SQLite and PostgreSQL spell differently, one small method each; the rest is plain Core.

In the manner of Prefect's `database/query_components.py`: the queries are written once over
these methods (JSON building, greatest/least, the per-type upsert, NOTIFY, how a statement's
steps are run together). Each dialect's spelling: db/postgres_sql.py, db/sqlite_sql.py; the
one a database uses: db/dialects.py.
"""

from __future__ import annotations

from sqlalchemy import String, func, literal_column, select, true
from sqlalchemy.sql import ColumnElement


def json_key(name: str) -> ColumnElement:
    """A JSON object's key, written into the statement."""
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


def joined(left, right):
    """FROM left, right (both one row or the right one a single row)."""
    return left.join(right, true())
