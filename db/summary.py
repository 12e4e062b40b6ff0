"""GET /sessions/{session_id}/summary's reads: a session's events counted by type, by minute
and by step, and its first error, each an aggregate the database computes over the session.

Every read but the per-type counts (kept by appends) is bounded by the seq the session row
said, so a summary describes the session as that row does while appends carry on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from session_events.contract import load_contract
from session_events.db.dialects import components
from session_events.db.tables import event_type_counts, events

_SCHEMAS = load_contract()["components"]["schemas"]
MAX_STEPS = _SCHEMAS["SessionSummary"]["properties"]["steps"]["maxItems"]
MAX_BUCKETS = _SCHEMAS["Activity"]["properties"]["counts"]["maxItems"]
MINUTE = timedelta(minutes=1)
STEP_STATUS_CHANGED = "step_status_changed"  # a step's status changes: event_data.new_status
ERRORISH = ("error", "fail")  # an event type containing one of these is an error


@dataclass(frozen=True)
class Step:
    step_id: uuid.UUID
    events: int
    first_seq: int
    last_seq: int
    started_at: datetime
    ended_at: datetime
    name: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Activity:
    start: datetime | None  # the first bucket's start; None before any event
    bucket_seconds: int
    counts: list[int]


async def count_by_type(conn: AsyncConnection, session_id: uuid.UUID) -> list[tuple[str, int]]:
    """(event_type, events) of the session, most first, ties by type."""
    t = event_type_counts.c
    query = (
        select(t.event_type, t.events)
        .where(t.session_id == session_id, t.events > 0)
        .order_by(t.events.desc(), t.event_type)
    )
    return [(event_type, count) for event_type, count in await conn.execute(query)]


async def read_activity(conn: AsyncConnection, session_id: uuid.UUID, last_seq: int) -> Activity:
    """The session's events per minute, folded into at most MAX_BUCKETS buckets."""
    minute = components(conn.dialect.name).minute_of(events.c.timestamp)
    query = (
        select(minute, func.count())
        .where(events.c.session_id == session_id, events.c.seq <= last_seq)
        .group_by(minute)
        .order_by(minute)
    )
    return fold_minutes(list(await conn.execute(query)))


def fold_minutes(minutes: list[tuple[datetime, int]]) -> Activity:
    """Counts per minute (oldest first) as buckets of the fewest whole minutes that keep to
    MAX_BUCKETS, from the first minute to the last."""
    if not minutes:
        return Activity(None, 60, [])
    start, end = minutes[0][0], minutes[-1][0]
    span = (end - start) // MINUTE + 1
    width = -(-span // MAX_BUCKETS)  # whole minutes per bucket
    counts = [0] * -(-span // width)
    for at, count in minutes:
        counts[(at - start) // MINUTE // width] += count
    return Activity(start, width * 60, counts)


async def read_steps(
    conn: AsyncConnection, session_id: uuid.UUID, last_seq: int
) -> tuple[list[Step], int]:
    """The session's first MAX_STEPS steps in order of first appearance, named and with their
    status, and how many steps it has."""
    e = events.c
    query = (
        select(
            e.step_id,
            func.count(),
            func.min(e.seq),
            func.max(e.seq),
            func.min(e.timestamp),
            func.max(e.timestamp),
            func.count().over(),  # the number of groups, before the limit
        )
        .where(e.session_id == session_id, e.seq <= last_seq, e.step_id.is_not(None))
        .group_by(e.step_id)
        .order_by(func.min(e.seq))
        .limit(MAX_STEPS)
    )
    rows = list(await conn.execute(query))
    if not rows:
        return [], 0
    names, statuses = await _names_and_statuses(conn, session_id, last_seq, rows)
    steps = [Step(*row[:6], name=names.get(row[0]), status=statuses.get(row[0])) for row in rows]
    return steps, rows[0][6]


async def _names_and_statuses(conn, session_id, last_seq, rows) -> tuple[dict, dict]:
    """Each step's name (event_data.step of its first event that has one) and status
    (event_data.new_status of its newest step_status_changed event), read from a bounded set of
    events: each step's first, and their step_status_changed ones."""
    e = events.c
    step_ids = [row[0] for row in rows]
    query = (
        select(e.step_id, e.event_type, e.event_data)
        .where(
            e.session_id == session_id,
            e.seq <= last_seq,
            or_(
                e.seq.in_([row[2] for row in rows]),
                and_(e.event_type == STEP_STATUS_CHANGED, e.step_id.in_(step_ids)),
            ),
        )
        .order_by(e.seq)
    )
    names: dict[uuid.UUID, str] = {}
    statuses: dict[uuid.UUID, str | None] = {}
    for step_id, event_type, data in await conn.execute(query):
        fields = data if isinstance(data, dict) else {}
        name = fields.get("step")
        if step_id not in names and isinstance(name, str):
            names[step_id] = name
        if event_type == STEP_STATUS_CHANGED:
            status = fields.get("new_status")
            statuses[step_id] = status if isinstance(status, str) else None
    return names, statuses


async def read_first_error(
    conn: AsyncConnection, session_id: uuid.UUID, last_seq: int, event_types: list[str]
) -> str | None:
    """The document (JSON text) of the session's first event of an error-ish type among
    `event_types` (the session's), or None: the lowest seq of each such type, by its index."""
    chosen = [t for t in event_types if any(word in t for word in ERRORISH)]
    if not chosen:
        return None
    e = events.c
    firsts = union_all(
        *(
            select(func.min(e.seq).label("seq")).where(
                e.session_id == session_id, e.event_type == event_type, e.seq <= last_seq
            )
            for event_type in chosen
        )
    ).subquery()
    c = components(conn.dialect.name)
    query = select(c.as_text(c.event_document(e))).where(
        e.session_id == session_id, e.seq == select(func.min(firsts.c.seq)).scalar_subquery()
    )
    return (await conn.execute(query)).scalar()
