"""Queries on sessions."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from session_events.contract import load_contract
from session_events.db.appends import STATUS_CHANGED, append_events
from session_events.db.dialects import components
from session_events.db.errors import ForbiddenTransition, SessionAlreadyExists, SessionNotFound
from session_events.db.session_filters import SessionFilters, conditions
from session_events.db.statements import CoreRunner
from session_events.db.tables import events, session_tombstones, sessions

INITIAL_STATUS = "pending"
# A session's life as the contract states it (SessionStatus' x-next-statuses).
NEXT_STATUSES = {
    status: tuple(following)
    for status, following in load_contract()["components"]["schemas"]["SessionStatus"][
        "x-next-statuses"
    ].items()
}
TERMINAL = tuple(status for status, following in NEXT_STATUSES.items() if not following)


async def create_session(
    conn: AsyncConnection,
    *,
    session_type: str,
    session_id: uuid.UUID | None = None,
    project_path: str | None = None,
    config: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> RowMapping:
    """Insert a pending session; SessionAlreadyExists if the chosen id is taken."""
    now = now or datetime.now(UTC)
    values = dict(
        id=session_id or uuid.uuid4(),
        session_type=session_type,
        status=INITIAL_STATUS,
        project_path=project_path,
        config=config or {},
        created_at=now,
        updated_at=now,
        last_seq=0,
        last_event_at=None,
    )
    try:
        row = (
            (await conn.execute(insert(sessions).values(**values).returning(*sessions.c)))
            .mappings()
            .one()
        )
    except IntegrityError:
        raise SessionAlreadyExists(values["id"]) from None
    await _notify(conn, f"{row['id']}:0")  # the sessions stream learns of it
    return row


async def _notify(conn: AsyncConnection, payload: str) -> None:
    """Tell every server process's listener at commit, where the dialect has listeners."""
    notify = components(conn.dialect.name).notify(payload)
    if notify is not None:
        await conn.execute(select(notify))


async def read_session(conn: AsyncConnection, session_id: uuid.UUID) -> RowMapping | None:
    query = select(sessions).where(sessions.c.id == session_id)
    return (await conn.execute(query)).mappings().first()


def locked(conn: AsyncConnection, query):
    """The query, locking the session row it reads until the transaction ends."""
    return components(conn.dialect.name).locked(query)


EVERY_SESSION = SessionFilters()


async def list_sessions(
    conn: AsyncConnection,
    chosen: SessionFilters = EVERY_SESSION,
    *,
    limit: int,
    offset: int,
) -> list[RowMapping]:
    """The sessions `chosen` matches, newest first."""
    query = (
        select(sessions)
        .where(*conditions(chosen, components(conn.dialect.name)))
        .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await conn.execute(query)).mappings().all())


async def count_by_status(conn: AsyncConnection, chosen: SessionFilters) -> dict[str, int]:
    """How many sessions of each status (every status, 0 for none) match `chosen` but for its
    status: one GROUP BY gives a dashboard's tabs and the listing's total alike."""
    where = conditions(chosen.without_status(), components(conn.dialect.name))
    query = select(sessions.c.status, func.count()).where(*where).group_by(sessions.c.status)
    counts = dict.fromkeys(NEXT_STATUSES, 0)
    counts.update((await conn.execute(query)).all())
    return counts


async def update_session_status(
    conn: AsyncConnection, session_id: uuid.UUID, status: str, *, now: datetime | None = None
) -> RowMapping:
    """Move a session to `status` and append its status_changed event, in the caller's transaction.

    SessionNotFound, or ForbiddenTransition naming both states; the status it already has changes
    nothing.
    """
    query = locked(conn, select(sessions.c.status).where(sessions.c.id == session_id))
    old = (await conn.execute(query)).scalar()
    if old is None:
        raise SessionNotFound(session_id)
    if old != status:
        if status not in NEXT_STATUSES[old]:
            raise ForbiddenTransition(old, status, NEXT_STATUSES[old])
        await append_events(
            CoreRunner(conn),
            session_id=session_id,
            new_events=[
                {
                    "event_type": STATUS_CHANGED,
                    "event_data": {"old_status": old, "new_status": status},
                    "message": f"Session {old} -> {status}",
                }
            ],
            now=now,
        )
        finished = status in TERMINAL
        await conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(status=status, completed_at=sessions.c.last_event_at if finished else None)
        )
    return await read_session(conn, session_id)


def may_end_session(document: dict) -> bool:
    """Whether an event document looks like its session's move to a terminal status (a
    producer may append one of the same type: only the session's row says)."""
    data = document["event_data"]
    return (
        document["event_type"] == STATUS_CHANGED
        and isinstance(data, dict)
        and data.get("new_status") in TERMINAL
    )


async def is_finished(conn: AsyncConnection, session_id: uuid.UUID) -> bool:
    """Whether the session has a terminal status (False if there is no such session)."""
    query = select(sessions.c.status).where(sessions.c.id == session_id)
    return (await conn.execute(query)).scalar() in TERMINAL


async def delete_session(
    conn: AsyncConnection,
    session_id: uuid.UUID,
    *,
    tombstones_kept: timedelta | None = None,
    chunk: int = 50_000,
) -> int | None:
    """Delete a session and its events in the caller's transaction; None if there is no such
    session, else how many events went with it.

    Events go in seq ranges of `chunk` rows, so no single statement runs into the statement
    timeout however large the session; the session row is locked first, so appends wait. The
    session leaves a tombstone for the sessions stream's resumes, and tombstones older than
    `tombstones_kept` go (deletions are rare, so no pruning job is needed; None keeps them).
    """
    query = locked(
        conn,
        select(sessions.c.last_seq, sessions.c.session_type).where(sessions.c.id == session_id),
    )
    found = (await conn.execute(query)).first()
    if found is None:
        return None
    last_seq, session_type = found
    for low in range(0, last_seq, chunk):
        await conn.execute(
            delete(events).where(
                events.c.session_id == session_id, events.c.seq > low, events.c.seq <= low + chunk
            )
        )
    await conn.execute(delete(sessions).where(sessions.c.id == session_id))
    # Stamped last, just before the commit, so a resume's margin covers the gap between them.
    now = datetime.now(UTC)
    tombstone = components(conn.dialect.name).upsert(session_tombstones)
    await conn.execute(
        tombstone.values(
            id=session_id, session_type=session_type, deleted_at=now
        ).on_conflict_do_update(
            index_elements=["id"], set_={"session_type": session_type, "deleted_at": now}
        )
    )
    if tombstones_kept is not None:
        old = session_tombstones.c.deleted_at < now - tombstones_kept
        await conn.execute(delete(session_tombstones).where(old))
    await _notify(conn, f"{session_id}:0")  # streams of it end
    return last_seq


async def read_sessions(conn: AsyncConnection, ids: Collection[uuid.UUID]) -> list[RowMapping]:
    """The sessions of these ids that exist (the sessions stream reads what changed)."""
    query = select(sessions).where(sessions.c.id.in_(ids))
    return list((await conn.execute(query)).mappings().all())


async def read_tombstones(conn: AsyncConnection, ids: Collection[uuid.UUID]) -> list[RowMapping]:
    """The tombstones of these ids (sessions deleted within the time tombstones are kept)."""
    query = select(session_tombstones).where(session_tombstones.c.id.in_(ids))
    return list((await conn.execute(query)).mappings().all())


async def changed_since(
    conn: AsyncConnection,
    since: datetime,
    *,
    session_types: Sequence[str] | None = None,
    limit: int,
) -> tuple[list[RowMapping], list[RowMapping]]:
    """The sessions (of these types) made or changed after `since`, and the tombstones of those
    deleted after it, each oldest first and at most `limit`.

    The sessions are a scan of the table: an index on updated_at would be updated by every
    append (appends rewrite it), which today are HOT updates on PostgreSQL; resumes are rare
    (perf/RESULTS.md measures the scan).
    """
    by_types = SessionFilters(session_types=session_types or ())
    changed = (
        select(sessions)
        .where(sessions.c.updated_at > since, *conditions(by_types, components(conn.dialect.name)))
        .order_by(sessions.c.updated_at, sessions.c.id)
        .limit(limit)
    )
    gone = session_tombstones.c
    deleted = select(session_tombstones).where(gone.deleted_at > since)
    if session_types:
        deleted = deleted.where(gone.session_type.in_(session_types))
    deleted = deleted.order_by(gone.deleted_at, gone.id).limit(limit)
    return (
        list((await conn.execute(changed)).mappings().all()),
        list((await conn.execute(deleted)).mappings().all()),
    )


class Finished(NamedTuple):
    id: uuid.UUID
    status: str
    finished_at: datetime
    events: int


async def list_finished_before(
    conn: AsyncConnection,
    cutoff: datetime,
    statuses: tuple[str, ...],
    *,
    limit: int,
    after: Finished | None = None,
) -> list[Finished]:
    """Sessions in `statuses` (terminal ones) that finished (or last changed) before `cutoff`,
    oldest first, from after `after` on."""
    finished = func.coalesce(sessions.c.completed_at, sessions.c.updated_at)
    query = (
        select(sessions.c.id, sessions.c.status, finished, sessions.c.last_seq)
        .where(sessions.c.status.in_(statuses), finished < cutoff)
        .order_by(finished, sessions.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(finished, sessions.c.id) > (after.finished_at, after.id))
    return [Finished(*row) for row in await conn.execute(query)]
