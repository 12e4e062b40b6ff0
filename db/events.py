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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, union_all, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from db.errors import EventIdConflict, SessionNotFound
from db.notify import CHANNEL
from db.tables import events, sessions

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


def _timestamps(previous: datetime | None, now: datetime, count: int) -> list[datetime]:
    """max(now, previous + 1 µs) for each new event: strictly increasing within the session."""
    stamps = []
    for _ in range(count):
        now = now if previous is None or now > previous else previous + ONE_MICROSECOND
        stamps.append(now)
        previous = now
    return stamps


async def _read_stored(
    conn: AsyncConnection, session_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, RowMapping]:
    """Events already stored under these ids; EventIdConflict if one is in another session."""
    ids = list(ids)
    if not ids:
        return {}
    query = select(events).where(events.c.id.in_(ids))
    rows = (await conn.execute(query)).mappings().all()
    for row in rows:
        if row["session_id"] != session_id:
            raise EventIdConflict(row["id"])
    return {row["id"]: row for row in rows}


@dataclass(frozen=True)
class Appended:
    events: list[Mapping[str, Any]]  # one per input, in input order
    stored: int  # how many of them this append stored (the others were there already)


async def append_events(
    conn: AsyncConnection,
    *,
    session_id: uuid.UUID,
    new_events: list[dict[str, Any]],
    now: datetime | None = None,
) -> Appended:
    """Append events (dicts with event_type and optional id, event_data, message, step_id).

    Returns one stored event per input, in input order. An input whose id is already stored in
    this session returns the stored event and is not stored again. Must run in a write transaction:
    the session row is locked first, so concurrent appends to one session take turns and commit
    in seq order.
    """
    locked = (
        await conn.execute(
            select(sessions.c.last_seq, sessions.c.last_event_at)
            .where(sessions.c.id == session_id)
            .with_for_update()
        )
    ).first()
    if locked is None:
        raise SessionNotFound(session_id)

    stored = await _read_stored(conn, session_id, (e["id"] for e in new_events if e.get("id")))
    results: list[Mapping[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    fresh_by_id: dict[uuid.UUID, dict[str, Any]] = {}
    for item in new_events:
        event_id = item.get("id")
        if event_id in stored:
            results.append(stored[event_id])
        elif event_id in fresh_by_id:  # the same id twice in one batch is stored once
            results.append(fresh_by_id[event_id])
        else:
            row = dict(
                session_id=session_id,
                seq=locked.last_seq + len(fresh) + 1,
                id=event_id or uuid.uuid4(),
                step_id=item.get("step_id"),
                event_type=item["event_type"],
                event_data=item.get("event_data") or {},
                message=item.get("message"),
            )
            fresh.append(row)
            fresh_by_id[row["id"]] = row
            results.append(row)

    if fresh:
        stamps = _timestamps(locked.last_event_at, now or datetime.now(UTC), len(fresh))
        for row, stamp in zip(fresh, stamps, strict=True):
            row["timestamp"] = stamp
        try:
            await conn.execute(insert(events), fresh)
        except IntegrityError:
            # Another session stored one of these ids between our read and our insert.
            raise EventIdConflict() from None
        await conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(last_seq=fresh[-1]["seq"], last_event_at=stamps[-1], updated_at=stamps[-1])
        )
        await notify_change(conn, session_id, fresh[-1]["seq"])
    return Appended(results, len(fresh))


async def notify_change(conn: AsyncConnection, session_id: uuid.UUID, last_seq: int) -> None:
    """On PostgreSQL, tell every server process's listener at commit (see db/notify.py)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(CHANNEL, f"{session_id}:{last_seq}")))
