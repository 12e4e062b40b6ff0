"""Queries on events.

Within a session, seq is 1, 2, 3, ... with no gaps and timestamps strictly increase with seq, so
every filter becomes a seq range: `since` is turned into the seq of the newest event at or before
it, and a listing is bounded above by the session's counter read first (or a client's until_seq).
Reads therefore see one consistent snapshot without a repeatable-read transaction, pages of one
range never shift, and the unfiltered total is arithmetic.
"""

from __future__ import annotations

import functools
import operator
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, union_all
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.tables import events

ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class SeqRange:
    """Events of one session with after_seq < seq <= upto_seq, of any of event_types (or all)."""

    session_id: uuid.UUID
    after_seq: int
    upto_seq: int
    event_types: tuple[str, ...] = ()

    def where(self, after_seq: int | None = None, upto_seq: int | None = None) -> list:
        return [
            events.c.session_id == self.session_id,
            events.c.seq > (self.after_seq if after_seq is None else after_seq),
            events.c.seq <= (self.upto_seq if upto_seq is None else upto_seq),
        ]

    @property
    def empty(self) -> bool:
        return self.upto_seq <= self.after_seq


async def read_seq_at(conn: AsyncConnection, *, session_id: uuid.UUID, timestamp: datetime) -> int:
    """The seq of the newest event at or before `timestamp` (0 if none)."""
    query = (
        select(events.c.seq)
        .where(events.c.session_id == session_id, events.c.timestamp <= timestamp)
        .order_by(events.c.timestamp.desc())
        .limit(1)
    )
    return (await conn.execute(query)).scalar() or 0


async def count_events(conn: AsyncConnection, seq_range: SeqRange) -> int:
    if seq_range.empty:
        return 0
    if not seq_range.event_types:
        return seq_range.upto_seq - seq_range.after_seq  # seq has no gaps
    # One index range count per type, added up: an IN list over several common types tempts
    # the planner into scanning the whole table.
    counts = [
        select(func.count())
        .select_from(events)
        .where(*seq_range.where(), events.c.event_type == event_type)
        .scalar_subquery()
        for event_type in seq_range.event_types
    ]
    return (await conn.execute(select(functools.reduce(operator.add, counts)))).scalar_one()


async def list_events(
    conn: AsyncConnection,
    seq_range: SeqRange,
    *,
    limit: int,
    offset: int = 0,
    ascending: bool = False,
) -> list[RowMapping]:
    """One page of the range, newest first (oldest first if `ascending`)."""
    if seq_range.empty or (
        not seq_range.event_types and offset >= seq_range.upto_seq - seq_range.after_seq
    ):
        return []
    order = events.c.seq.asc() if ascending else events.c.seq.desc()
    if not seq_range.event_types:
        # No gaps: the page starts at a known seq, so deep pages need no OFFSET scan.
        window = (
            seq_range.where(after_seq=seq_range.after_seq + offset)
            if ascending
            else seq_range.where(upto_seq=seq_range.upto_seq - offset)
        )
        query = select(events).where(*window).order_by(order).limit(limit)
    elif len(seq_range.event_types) == 1:
        query = (
            select(events)
            .where(*seq_range.where(), events.c.event_type == seq_range.event_types[0])
            .order_by(order)
            .limit(limit)
            .offset(offset)
        )
    else:
        query = _merged_types(conn.dialect.name, seq_range, order, limit, offset, ascending)
    return list((await conn.execute(query)).mappings().all())


def _merged_types(dialect: str, seq_range: SeqRange, order, limit, offset, ascending):
    """Several types: one ordered index range per type, merged, so no database sorts the rows.

    PostgreSQL merges (Merge Append) ranges that are each cut to the rows a page can need;
    SQLite cannot cut the members of a compound select, but merges them lazily as they are.
    """
    branches = [
        select(events).where(*seq_range.where(), events.c.event_type == event_type).order_by(order)
        for event_type in seq_range.event_types
    ]
    if dialect == "postgresql":
        branches = [select(b.limit(offset + limit).subquery()) for b in branches]
    else:
        branches = [b.order_by(None) for b in branches]
    merged = union_all(*branches)
    seq = merged.selected_columns.seq
    return merged.order_by(seq.asc() if ascending else seq.desc()).limit(limit).offset(offset)
