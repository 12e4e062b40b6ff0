"""PostgreSQL's spelling of the query components (db/query_components.py)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Interval,
    Text,
    Uuid,
    cast,
    column,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql

from session_events.db.notify import CHANNEL
from session_events.db.query_components import QueryComponents, json_key
from session_events.db.tables import UTCDateTime

DOCUMENT_TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


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
        return func.json_build_object(*(part for k, v in pairs for part in (json_key(k), v)))

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
