"""One page of a session's events, the hot read path of the service.

On PostgreSQL a page is one statement run by asyncpg itself: the session's counter, the seq
bounds, the per-type totals and the page's events already shaped as the API's event documents
(JSON built by PostgreSQL), so Python neither builds SQL nor converts rows. On SQLite the same
page is read with the query functions of db/events.py and shaped in Python. Both give the same
bytes to the same request: the API tests run every listing on both backends.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from db import events as db_events
from db import sessions as db_sessions
from db.documents import event_document
from db.engine import DriverConnection


@dataclass(frozen=True)
class ListingQuery:
    """Which events: of one session, after_seq < seq <= until_seq (and after `since`), of any of
    event_types; which page of them: `limit` events after skipping `offset`, newest first unless
    ascending. `count_total` asks for the number of events in the whole range; without it the
    page looks one event ahead instead, to tell whether there are more."""

    session_id: uuid.UUID
    since: datetime | None
    event_types: tuple[str, ...]
    after_seq: int
    until_seq: int | None
    ascending: bool
    offset: int
    limit: int
    count_total: bool


@dataclass(frozen=True)
class Version:
    """What every listing body depends on besides its query: the session and its counter."""

    latest_seq: int
    created_at: datetime


@dataclass(frozen=True)
class Page:
    version: Version
    upto_seq: int  # the range's upper bound, which links pin as until_seq
    total: int | None  # None unless count_total
    # The event documents as a JSON value: a list, or the array PostgreSQL built, embedded as is.
    items: list[dict[str, Any]] | orjson.Fragment
    count: int  # how many events `items` holds
    more: bool  # whether events lie beyond this page (known without count_total only)


async def read_version(conn, session_id: uuid.UUID) -> Version | None:
    """The session's counter and identity (None if there is no such session): one PK lookup."""
    if isinstance(conn, DriverConnection):
        row = await conn.fetchrow(_VERSION_SQL, session_id)
    else:
        row = await db_sessions.read_session(conn, session_id)
    return None if row is None else Version(row["last_seq"], row["created_at"])


_VERSION_SQL = "SELECT last_seq, created_at FROM sessions WHERE id = $1"


async def read_page(conn, query: ListingQuery) -> Page | None:
    """The page, or None if there is no such session."""
    if isinstance(conn, DriverConnection):
        return await _read_page_postgresql(conn, query)
    version = await read_version(conn, query.session_id)
    if version is None:
        return None
    lower = query.after_seq
    if query.since is not None:
        at_since = await db_events.read_seq_at(
            conn, session_id=query.session_id, timestamp=query.since
        )
        lower = max(lower, at_since)
    upper = version.latest_seq
    if query.until_seq is not None:
        upper = min(query.until_seq, upper)
    seq_range = db_events.SeqRange(query.session_id, lower, upper, query.event_types)
    total = await db_events.count_events(conn, seq_range) if query.count_total else None
    rows = await db_events.list_events(
        conn,
        seq_range,
        limit=query.limit + (not query.count_total),
        offset=query.offset,
        ascending=query.ascending,
    )
    items = [event_document(row) for row in rows[: query.limit]]
    return Page(version, upper, total, items, len(items), len(rows) > query.limit)


async def _read_page_postgresql(conn: DriverConnection, query: ListingQuery) -> Page | None:
    types = query.event_types
    statement = _page_sql(len(types), query.ascending, query.since is not None, query.count_total)
    fetch = query.limit + (not query.count_total)
    parameters = [query.session_id, query.after_seq, query.until_seq, query.offset, fetch]
    parameters.append(query.limit)
    if query.since is not None:
        parameters.append(query.since)
    row = await conn.fetchrow(statement, *parameters, *types)
    if row is None:
        return None
    total = row["total"]
    if query.count_total and not types:
        total = max(row["hi"] - row["lo"], 0)  # seq has no gaps
    items = orjson.Fragment(row["items"] or "[]")
    count = min(row["fetched"], query.limit)
    version = Version(row["last_seq"], row["created_at"])
    return Page(version, row["hi"], total, items, count, row["fetched"] > query.limit)


# The event document as the API serves it (see event_document for the same shape in Python).
_DOCUMENT = """json_build_object(
    'id', e.id, 'session_id', e.session_id, 'seq', e.seq, 'step_id', e.step_id,
    'event_type', e.event_type, 'event_data', e.event_data, 'message', e.message,
    'timestamp', to_char(e.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))"""


@functools.lru_cache(maxsize=256)
def _page_sql(type_count: int, ascending: bool, since: bool, count_total: bool) -> str:
    """The statement for one shape of query. Parameters: $1 session id, $2 after_seq,
    $3 until_seq (or NULL), $4 offset, $5 events to read, $6 events to return (one fewer when
    looking ahead), then $7 since (if any), then the event types.

    The bounds are computed once per statement (lateral `b`), then every read of events is an
    index range: (session_id, seq) for all types, (session_id, event_type, seq) per type, merged
    in seq order without a sort when there are several types. A typed total over the whole
    session is a lookup of the counts appends keep.
    """
    order = "ASC" if ascending else "DESC"
    first_type = 8 if since else 7
    at_since = (
        "(SELECT seq FROM events WHERE session_id = $1 AND timestamp <= $7::timestamptz"
        " ORDER BY timestamp DESC LIMIT 1)"
    )
    lower = f"GREATEST($2::bigint, COALESCE({at_since}, 0))" if since else "$2::bigint"
    in_range = "session_id = $1 AND seq > b.lo AND seq <= b.hi"
    if type_count == 0:
        window = (
            "seq > LEAST(b.lo, b.hi) + $4::bigint AND seq <= b.hi"
            if ascending
            else "seq > b.lo AND seq <= b.hi - $4::bigint"
        )
        rows = (
            f"SELECT * FROM events WHERE session_id = $1 AND {window}"
            f" ORDER BY seq {order} LIMIT $5::bigint"
        )
    else:
        branches = [
            f"(SELECT * FROM events WHERE {in_range} AND event_type = ${first_type + i}::text"
            f" ORDER BY seq {order} LIMIT $4::bigint + $5::bigint)"
            for i in range(type_count)
        ]
        rows = (
            f"SELECT * FROM ({' UNION ALL '.join(branches)}) u"
            f" ORDER BY seq {order} LIMIT $5::bigint OFFSET $4::bigint"
        )
    total = "NULL::bigint"
    if count_total and type_count:
        # Over the whole session the per-type counts appends keep are the answer; over part of
        # it, each type's index range is counted (CASE evaluates only the branch it takes).
        types = ", ".join(f"${first_type + i}" for i in range(type_count))
        kept = (
            "(SELECT COALESCE(sum(events), 0) FROM event_type_counts"
            f" WHERE session_id = $1 AND event_type IN ({types}))::bigint"
        )
        counted = " + ".join(
            f"(SELECT count(*) FROM events WHERE {in_range} AND event_type = ${first_type + i})"
            for i in range(type_count)
        )
        total = f"CASE WHEN b.lo = 0 AND b.hi = s.last_seq THEN {kept} ELSE {counted} END"
    # json_agg keeps the order of the rows it is given (the ordered, limited subquery), numbered
    # as they come to leave out the look-ahead; as text, to be embedded in the body unparsed.
    return f"""SELECT s.last_seq, s.created_at, b.lo, b.hi, {total} AS total, p.items, p.fetched
FROM sessions s
CROSS JOIN LATERAL (SELECT {lower} AS lo,
    LEAST(COALESCE($3::bigint, s.last_seq), s.last_seq) AS hi) b
CROSS JOIN LATERAL (
    SELECT json_agg({_DOCUMENT}) FILTER (WHERE e.n <= $6::bigint)::text AS items,
           COALESCE(max(e.n), 0) AS fetched
    FROM (SELECT r.*, row_number() OVER () AS n FROM ({rows}) r) e) p
WHERE s.id = $1::uuid"""
