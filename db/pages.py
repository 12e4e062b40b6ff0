"""One page of a session's events, the hot read path of the service: one statement.

Within a session seq is 1, 2, 3, ... with no gaps and timestamps strictly increase with seq, so
the filters (declared in db/filters.py) become a seq range, bounded by some of them (`since` is
the seq of the newest event at or before it) and above by the session's counter read in the
same statement, within which the others select events. Pages of one range never shift, and
without a filter that skips seqs the total is arithmetic and an offset is a seq bound
(`ListingQuery.gap_free` decides).

The statement reads the counter, the bounds, the total and the page's events already as the
API's event documents (JSON built by the database), compiled once per shape of query.
"""

from __future__ import annotations

import functools
import itertools
import operator
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from session_events.db import filters as db_filters
from session_events.db.filters import Chosen, Filter
from session_events.db.query_components import QueryComponents, joined
from session_events.db.statements import Runner, compiled_once
from session_events.db.tables import events, sessions

# An offset beyond any session's events: a larger one reads the same nothing, and this one keeps
# every bound the database computes from it within bigint.
MAX_OFFSET = 2**62


@dataclass(frozen=True)
class ListingQuery:
    """Which events: of one session, those every filter keeps (db/filters.py); which page of
    them: `limit` events after skipping `offset`, newest first unless ascending. `count_total`
    asks for the number of events in the whole range; without it the page looks one event ahead
    instead, to tell whether there are more."""

    session_id: uuid.UUID
    filters: Chosen  # (declaration, value) of each filter given, in the declarations' order
    ascending: bool
    offset: int
    limit: int
    count_total: bool

    @property
    def gap_free(self) -> bool:
        """Whether the range holds every seq between its bounds: no filter skips seqs. Then the
        total is hi - lo and an offset a bound."""
        return not any(declared.skips_seqs for declared, _ in self.filters)


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
    values = {
        "session_id": query.session_id,
        "offset": min(query.offset, MAX_OFFSET),
        "fetch": query.limit + (not query.count_total),
        "limit": query.limit,
    }
    shape = []
    for declared, value in query.filters:
        if declared.many:
            shape.append((declared, len(value)))
            values.update(zip(_names(declared, len(value)), value, strict=True))
        else:
            shape.append((declared, 1))
            values[declared.parameter] = value
    statement = _page_statement(runner.dialect, tuple(shape), query.ascending, query.count_total)
    row = await runner.row(statement, values)
    if row is None:
        return None
    last_seq, created_at, lo, hi, total, items, fetched = row
    if query.count_total and query.gap_free:
        total = max(hi - lo, 0)
    count = min(fetched, query.limit)
    version = Version(last_seq, created_at)
    return Page(version, hi, total, items or "[]", count, fetched > query.limit)


@functools.cache
def _names(declared: Filter, count: int) -> tuple[str, ...]:
    """The parameters of a filter's `count` values: its name, numbered if it takes several."""
    if not declared.many:
        return (declared.parameter,)
    return tuple(f"{declared.parameter}_{n}" for n in range(count))


Shape = tuple[tuple[Filter, int], ...]  # each filter given, and how many values it has


@compiled_once
def _page_statement(c: QueryComponents, shape: Shape, ascending: bool, count_total: bool):
    """The statement for one shape of query. The bounds are computed once (the one-row `bounds`,
    which the page reads: c.leading_row), then every read of events is an index range:
    (session_id, seq) without a selection, (session_id, <selection>, seq) per alternative of the
    selections, merged in seq order without a sort when there are several."""
    session_id = _session_id()
    given = [(declared, _parameters(declared, count)) for declared, count in shape]
    bounds, read = _bounds(c, session_id, [g for g in given if not g[0].skips_seqs])
    selections = [g for g in given if g[0].skips_seqs]
    branches = _branches(c, selections)
    rows = _rows(c, session_id, bounds, read, branches, ascending)
    page = _documents(c, rows)
    total = null()
    if count_total and branches:
        total = _total(session_id, bounds, branches, _kept_total(session_id, selections))
    return select(
        bounds.c.last_seq,
        bounds.c.created_at,
        bounds.c.lo,
        bounds.c.hi,
        total.label("total"),
        page.c["items"],
        page.c.fetched,
    ).select_from(joined(bounds, page))


def _parameters(declared: Filter, count: int) -> list:
    """The bound parameters of a filter's values: a list of `count` for a `many` filter."""
    parameters = [bindparam(name, type_=declared.sql_type) for name in _names(declared, count)]
    return parameters if declared.many else parameters[0]


def _bounds(c: QueryComponents, session_id, bounding: list):
    """The one-row FROM item of the session's counter and identity and the range's bounds lo <
    seq <= hi: the highest lower bound given (0 without one), the lowest upper one, at most the
    counter; and how the page's rows read a column of it (c.leading_row)."""
    lowers = [d.sql(c, session_id, value) for d, value in bounding if d.bound == "lower"]
    uppers = [d.sql(c, session_id, value) for d, value in bounding if d.bound == "upper"]
    last_seq = sessions.c.last_seq
    lower = functools.reduce(c.greatest, lowers) if lowers else literal_column("0", BigInteger)
    row = select(
        last_seq,
        c.timestamp_text(sessions.c.created_at).label("created_at"),
        lower.label("lo"),
        functools.reduce(c.least, uppers, last_seq).label("hi"),
    ).where(sessions.c.id == session_id)
    return c.leading_row(row, "bounds")


def _branches(c: QueryComponents, selections: list) -> list[tuple]:
    """The conditions of each index range to read: one alternative of every selection (one
    range with a single alternative each). None at all when nothing skips seqs."""
    if not selections:
        return []
    alternatives = [
        [d.sql(c, value) for value in values] if d.many else [d.sql(c, values)]
        for d, values in selections
    ]
    return list(itertools.product(*alternatives))


def _rows(c: QueryComponents, session_id, bounds, read, branches: list, ascending: bool):
    """The page's events (and the look-ahead), in the page's order."""
    lo, hi = read(bounds.c.lo), read(bounds.c.hi)
    seq = events.c.seq
    order = seq.asc() if ascending else seq.desc()
    offset = bindparam("offset", type_=BigInteger)
    fetch = bindparam("fetch", type_=BigInteger)
    if not branches:  # gap-free: the page starts at a known seq, no OFFSET scan
        window = (
            [seq > c.least(lo, hi) + offset, seq <= hi]
            if ascending
            else [seq > lo, seq <= hi - offset]
        )
        rows = select(events).where(events.c.session_id == session_id, *window)
        return rows.order_by(order).limit(fetch).correlate(bounds)
    in_range = [events.c.session_id == session_id, seq > lo, seq <= hi]
    if len(branches) == 1:
        rows = select(events).where(*in_range, *branches[0]).order_by(order)
        return rows.limit(fetch).offset(offset).correlate(bounds)
    ranges = [
        select(events).where(*in_range, *branch).order_by(order).correlate(bounds)
        for branch in branches
    ]
    merged = union_all(*c.merge_ordered(ranges, offset + fetch))
    merged_seq = merged.selected_columns.seq
    rows = merged.order_by(merged_seq.asc() if ascending else merged_seq.desc())
    return rows.limit(fetch).offset(offset)


def _documents(c: QueryComponents, rows):
    """The page as one row: the event documents (a JSON array, without the look-ahead) and how
    many events were fetched."""
    page_rows = rows.subquery("r")
    # Numbered as they come, to leave the look-ahead out of the documents.
    numbered = select(*page_rows.c, func.row_number().over().label("n")).subquery("e")
    document = c.event_document(numbered.c)
    within = numbered.c.n <= bindparam("limit", type_=BigInteger)
    page = select(
        c.json_array(document, within).label("items"),
        func.coalesce(func.max(numbered.c.n), 0).label("fetched"),
    )
    return c.reading(page, "p")


def _kept_total(session_id, selections: list):
    """The whole session's total from the counts appends keep, where they answer it: only a
    lone selection declaring one can (they know nothing of any other selection)."""
    if len(selections) != 1:
        return None
    [(declared, values)] = selections
    return None if declared.kept_total is None else declared.kept_total(session_id, values)


def _total(session_id, bounds, branches: list, kept):
    """The events in the range that the selections keep: each index range counted (they do not
    overlap), or the kept counts when the range is the whole session and they answer it."""
    seq = events.c.seq
    counted = [
        select(func.count())
        .select_from(events)
        .where(events.c.session_id == session_id, seq > bounds.c.lo, seq <= bounds.c.hi, *branch)
        .scalar_subquery()
        for branch in branches
    ]
    total = functools.reduce(operator.add, counted)
    if kept is None:
        return total
    whole = and_(bounds.c.lo == 0, bounds.c.hi == bounds.c.last_seq)
    return case((whole, kept), else_=total)


def events_between(session_id: uuid.UUID, filters: dict, after: int, upto: int | None, limit: int):
    """The query of the next `limit` events after `after` up to `upto` (the session's newest
    if None) that `filters` keep, oldest first: how hubs and replays read."""
    bounds = {db_filters.AFTER_SEQ.parameter: after}
    if upto is not None:
        bounds[db_filters.UNTIL_SEQ.parameter] = upto
    return ListingQuery(
        session_id,
        db_filters.read({**filters, **bounds}),
        ascending=True,
        offset=0,
        limit=limit,
        count_total=False,
    )
