"""One page of a session's events, the hot read path of the service: one statement.

Within a session seq is 1, 2, 3, ... with no gaps and timestamps strictly increase with seq, so
every filter becomes a seq range: `since` is the seq of the newest event at or before it, and the
range is bounded above by the session's counter read in the same statement (or a client's
until_seq). Pages of one range never shift, and without a filter that skips seqs the total is
arithmetic and an offset is a seq bound (`ListingQuery.gap_free` decides).

The statement reads the counter, the bounds, the total and the page's events already as the
API's event documents (JSON built by the database), compiled once per shape of query.
"""

from __future__ import annotations

import functools
import operator
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    case,
    cast,
    func,
    null,
    select,
    union_all,
)

from session_events.db.dialects import QueryComponents, joined
from session_events.db.statements import Runner, compiled_once
from session_events.db.tables import UTCDateTime, event_type_counts, events, sessions

# An offset beyond any session's events: a larger one reads the same nothing, and this one keeps
# every bound the database computes from it within bigint.
MAX_OFFSET = 2**62


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

    @property
    def gap_free(self) -> bool:
        """Whether the range holds every seq between its bounds: no filter skips seqs (only
        event_type does; `since` is a bound). Then the total is hi - lo and an offset a bound."""
        return not self.event_types


@dataclass(frozen=True)
class Version:
    """What every listing body depends on besides its query: the session and its counter."""

    latest_seq: int
    created_at: str


@dataclass(frozen=True)
class Page:
    version: Version
    upto_seq: int  # the range's upper bound, which links pin as until_seq
    total: int | None  # None unless count_total
    items: str  # the event documents: the JSON array text the database built
    count: int  # how many events `items` holds
    more: bool  # whether events lie beyond this page (known without count_total only)


def _session_id():
    return bindparam("session_id", type_=sessions.c.id.type)


@compiled_once
def _version_statement(c: QueryComponents):
    return select(sessions.c.last_seq, c.timestamp_text(sessions.c.created_at)).where(
        sessions.c.id == _session_id()
    )


async def read_version(runner: Runner, session_id: uuid.UUID) -> Version | None:
    """The session's counter and identity (None if there is no such session): one PK lookup."""
    row = await runner.row(_version_statement(runner.dialect), {"session_id": session_id})
    return None if row is None else Version(row[0], row[1])


async def read_page(runner: Runner, query: ListingQuery) -> Page | None:
    """The page, or None if there is no such session."""
    types = query.event_types
    statement = _page_statement(
        runner.dialect,
        len(types),
        query.gap_free,
        query.ascending,
        query.since is not None,
        query.count_total,
    )
    values = {
        "session_id": query.session_id,
        "after_seq": query.after_seq,
        "until_seq": query.until_seq,
        "offset": min(query.offset, MAX_OFFSET),
        "fetch": query.limit + (not query.count_total),
        "limit": query.limit,
        "since": query.since,
        **{f"type_{n}": event_type for n, event_type in enumerate(types)},
    }
    row = await runner.row(statement, values)
    if row is None:
        return None
    last_seq, created_at, lo, hi, total, items, fetched = row
    if query.count_total and query.gap_free:
        total = max(hi - lo, 0)
    count = min(fetched, query.limit)
    version = Version(last_seq, created_at)
    return Page(version, hi, total, items or "[]", count, fetched > query.limit)


@compiled_once
def _page_statement(
    c: QueryComponents,
    type_count: int,
    gap_free: bool,
    ascending: bool,
    since: bool,
    count_total: bool,
):
    """The statement for one shape of query. The bounds are computed once (the one-row `bounds`,
    which the page reads: c.leading_row),
    then every read of events is an index range: (session_id, seq) for all types, (session_id,
    event_type, seq) per type, merged in seq order without a sort when there are several. A
    typed total over the whole session is a lookup of the counts appends keep."""
    session_id = _session_id()
    types = [bindparam(f"type_{n}", type_=events.c.event_type.type) for n in range(type_count)]
    lower = bindparam("after_seq", type_=BigInteger)
    if since:
        at_since = (
            select(events.c.seq)
            .where(
                events.c.session_id == session_id,
                events.c.timestamp <= bindparam("since", type_=UTCDateTime),
            )
            .order_by(events.c.timestamp.desc())
            .limit(1)
            .scalar_subquery()
        )
        lower = c.greatest(lower, func.coalesce(at_since, 0))
    last_seq = sessions.c.last_seq
    upper = c.least(func.coalesce(bindparam("until_seq", type_=BigInteger), last_seq), last_seq)
    bounds, read = c.leading_row(
        select(
            last_seq,
            c.timestamp_text(sessions.c.created_at).label("created_at"),
            lower.label("lo"),
            upper.label("hi"),
        ).where(sessions.c.id == session_id),
        "bounds",
    )
    lo, hi = read(bounds.c.lo), read(bounds.c.hi)
    seq = events.c.seq
    order = seq.asc() if ascending else seq.desc()
    offset = bindparam("offset", type_=BigInteger)
    fetch = bindparam("fetch", type_=BigInteger)
    in_range = [events.c.session_id == session_id, seq > lo, seq <= hi]
    if gap_free:  # the page starts at a known seq, no OFFSET scan
        window = (
            [seq > c.least(lo, hi) + offset, seq <= hi]
            if ascending
            else [seq > lo, seq <= hi - offset]
        )
        rows = select(events).where(events.c.session_id == session_id, *window)
        rows = rows.order_by(order).limit(fetch).correlate(bounds)
    elif type_count == 1:
        rows = select(events).where(*in_range, events.c.event_type == types[0]).order_by(order)
        rows = rows.limit(fetch).offset(offset).correlate(bounds)
    else:
        branches = [
            select(events)
            .where(*in_range, events.c.event_type == t)
            .order_by(order)
            .correlate(bounds)
            for t in types
        ]
        merged = union_all(*c.merge_ordered(branches, offset + fetch))
        merged_seq = merged.selected_columns.seq
        rows = merged.order_by(merged_seq.asc() if ascending else merged_seq.desc())
        rows = rows.limit(fetch).offset(offset)
    page_rows = rows.subquery("r")
    # Numbered as they come, to leave the look-ahead out of the documents.
    numbered = select(*page_rows.c, func.row_number().over().label("n")).subquery("e")
    document = c.event_document(numbered.c)
    page = c.reading(
        select(
            c.json_array(document, numbered.c.n <= bindparam("limit", type_=BigInteger)).label(
                "items"
            ),
            func.coalesce(func.max(numbered.c.n), 0).label("fetched"),
        ),
        "p",
    )
    total = null()
    if count_total and not gap_free:
        kept = select(
            cast(func.coalesce(func.sum(event_type_counts.c.events), 0), BigInteger)
        ).where(
            event_type_counts.c.session_id == session_id,
            event_type_counts.c.event_type.in_(types),
        )
        counted = [
            select(func.count())
            .select_from(events)
            .where(
                events.c.session_id == session_id,
                seq > bounds.c.lo,
                seq <= bounds.c.hi,
                events.c.event_type == t,
            )
            .scalar_subquery()
            for t in types
        ]
        whole = and_(bounds.c.lo == 0, bounds.c.hi == bounds.c.last_seq)
        total = case((whole, kept.scalar_subquery()), else_=functools.reduce(operator.add, counted))
    return select(
        bounds.c.last_seq,
        bounds.c.created_at,
        bounds.c.lo,
        bounds.c.hi,
        total.label("total"),
        page.c["items"],
        page.c.fetched,
    ).select_from(joined(bounds, page))
