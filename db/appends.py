"""Appending events: seq and timestamps assigned under the session's row lock, idempotent by id.

The logic is one; its storage steps have two forms: SQLAlchemy Core on any connection, and
plain SQL on a DriverConnection (PostgreSQL's hot path: asyncpg itself, one round trip a step).
On a DriverConnection an append is its own unit of work: a batch without client ids is one
statement (lock, insert, counts, counter, NOTIFY: atomic by itself, one round trip instead of
four), a batch with ids the same steps as elsewhere inside one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from db.engine import DriverConnection
from db.errors import EventIdConflict, SessionNotFound
from db.notify import CHANNEL
from db.tables import event_type_counts, events, sessions

ONE_MICROSECOND = timedelta(microseconds=1)
COLUMNS = ("session_id", "seq", "id", "step_id", "event_type", "event_data", "message", "timestamp")


def _timestamps(previous: datetime | None, now: datetime, count: int) -> list[datetime]:
    """max(now, previous + 1 µs) for each new event: strictly increasing within the session."""
    stamps = []
    for _ in range(count):
        now = now if previous is None or now > previous else previous + ONE_MICROSECOND
        stamps.append(now)
        previous = now
    return stamps


@dataclass(frozen=True)
class Appended:
    events: list[Mapping[str, Any]]  # one per input, in input order
    stored: int  # how many of them this append stored (the others were there already)


async def append_events(
    conn: AsyncConnection | DriverConnection,
    *,
    session_id: uuid.UUID,
    new_events: list[dict[str, Any]],
    now: datetime | None = None,
) -> Appended:
    """Append events (dicts with event_type and optional id, event_data, message, step_id).

    Returns one stored event per input, in input order. An input whose id is already stored in
    this session returns the stored event and is not stored again. On an AsyncConnection it must
    run in a write transaction (a DriverConnection: outside one, see above): the session row is
    locked first, so concurrent appends to one session take turns and commit in seq order.
    """
    ids = [e["id"] for e in new_events if e.get("id")]
    if isinstance(conn, DriverConnection):
        if not ids:
            return await _append_at_once(conn, session_id, new_events, now or datetime.now(UTC))
        async with conn.transaction():
            return await _append(conn, session_id, new_events, ids, now)
    return await _append(conn, session_id, new_events, ids, now)


async def _append(conn, session_id, new_events, ids, now) -> Appended:
    locked = await _lock_session(conn, session_id)
    if locked is None:
        raise SessionNotFound(session_id)
    last_seq, last_event_at = locked

    stored = await _read_stored(conn, session_id, ids) if ids else {}
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
                seq=last_seq + len(fresh) + 1,
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
        stamps = _timestamps(last_event_at, now or datetime.now(UTC), len(fresh))
        for row, stamp in zip(fresh, stamps, strict=True):
            row["timestamp"] = stamp
        try:
            await _store(conn, session_id, fresh)
        except IntegrityError:
            # Another session stored one of these ids between our read and our insert.
            raise EventIdConflict() from None
    return Appended(results, len(fresh))


# The whole append of a batch without client ids. `locked` takes the row lock and, once it has it,
# reads the session's newest counter and stamp (READ COMMITTED re-reads a row it waited for); every
# other part depends on it, so nothing touches the session before the lock is held. Stamps follow
# _timestamps: max(now, last + 1 us), then 1 us apart. No row: the session does not exist.
_APPEND_AT_ONCE = """WITH locked AS (
    SELECT last_seq, CASE WHEN last_event_at IS NULL OR $7 > last_event_at THEN $7
        ELSE last_event_at + interval '1 microsecond' END AS first_stamp
    FROM sessions WHERE id = $1 FOR UPDATE),
fresh AS (
    SELECT locked.last_seq + e.n AS seq, e.id, e.step_id, e.event_type, e.event_data, e.message,
        locked.first_stamp + (e.n - 1) * interval '1 microsecond' AS stamp
    FROM locked, unnest($2::uuid[], $3::uuid[], $4::text[], $5::json[], $6::text[])
        WITH ORDINALITY AS e(id, step_id, event_type, event_data, message, n)),
stored AS (
    INSERT INTO events (session_id, seq, id, step_id, event_type, event_data, message, timestamp)
    SELECT $1, seq, id, step_id, event_type, event_data, message, stamp FROM fresh),
counted AS (
    INSERT INTO event_type_counts (session_id, event_type, events)
    SELECT $1, event_type, count(*) FROM fresh GROUP BY 2
    ON CONFLICT (session_id, event_type)
    DO UPDATE SET events = event_type_counts.events + excluded.events),
newest AS (SELECT max(seq) AS seq, max(stamp) AS stamp, min(stamp) AS first FROM fresh),
advanced AS (
    UPDATE sessions SET last_seq = newest.seq, last_event_at = newest.stamp,
        updated_at = newest.stamp
    FROM newest WHERE sessions.id = $1 AND newest.seq IS NOT NULL)
SELECT newest.seq, newest.first, pg_notify($8, $1 || ':' || newest.seq)
FROM newest WHERE newest.seq IS NOT NULL"""


async def _append_at_once(
    conn: DriverConnection, session_id: uuid.UUID, new_events: list[dict[str, Any]], now: datetime
) -> Appended:
    rows = [
        dict(
            session_id=session_id,
            id=uuid.uuid4(),
            step_id=item.get("step_id"),
            event_type=item["event_type"],
            event_data=item.get("event_data") or {},
            message=item.get("message"),
        )
        for item in new_events
    ]
    columns = [[row[name] for row in rows] for name in ("id", "step_id", "event_type", "message")]
    data = [_json_text(row["event_data"]) for row in rows]
    appended = await conn.fetchrow(
        _APPEND_AT_ONCE,
        session_id,
        columns[0],
        columns[1],
        columns[2],
        data,
        columns[3],
        now,
        CHANNEL,
    )
    if appended is None:
        raise SessionNotFound(session_id)
    last_seq, first_stamp = appended[0], appended[1]
    for n, row in enumerate(rows):
        row["seq"] = last_seq - len(rows) + 1 + n
        row["timestamp"] = first_stamp + n * ONE_MICROSECOND
    return Appended(rows, len(rows))


async def _lock_session(conn, session_id: uuid.UUID) -> tuple[int, datetime | None] | None:
    if isinstance(conn, DriverConnection):
        row = await conn.fetchrow(
            "SELECT last_seq, last_event_at FROM sessions WHERE id = $1 FOR UPDATE", session_id
        )
    else:
        query = (
            select(sessions.c.last_seq, sessions.c.last_event_at)
            .where(sessions.c.id == session_id)
            .with_for_update()
        )
        row = (await conn.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def _read_stored(
    conn, session_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Mapping[str, Any]]:
    """Events already stored under these ids; EventIdConflict if one is in another session."""
    if isinstance(conn, DriverConnection):
        statement = f"SELECT {', '.join(COLUMNS)} FROM events WHERE id = ANY($1::uuid[])"
        rows: list[Mapping[str, Any]] = await conn.fetch(statement, list(ids))
    else:
        query = select(events).where(events.c.id.in_(list(ids)))
        rows = list((await conn.execute(query)).mappings().all())
    for row in rows:
        if row["session_id"] != session_id:
            raise EventIdConflict(row["id"])
    return {row["id"]: row for row in rows}


# One statement stores the rows, adds them to the per-type counts, moves the session's counter and
# queues the NOTIFY: the session row stays locked for this statement and the COMMIT only.
_STORE = """WITH stored AS (
    INSERT INTO events (session_id, seq, id, step_id, event_type, event_data, message, timestamp)
    SELECT $1::uuid, * FROM unnest($2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::json[],
        $7::text[], $8::timestamptz[])),
counted AS (
    INSERT INTO event_type_counts (session_id, event_type, events)
    SELECT $1::uuid, event_type, count(*) FROM unnest($5::text[]) AS event_type GROUP BY 2
    ON CONFLICT (session_id, event_type)
    DO UPDATE SET events = event_type_counts.events + excluded.events),
advanced AS (
    UPDATE sessions SET last_seq = $9, last_event_at = $10, updated_at = $10 WHERE id = $1)
SELECT pg_notify($11, $12)"""


async def _store(conn, session_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Insert the rows, move the session's counter to the last one, tell the listeners at commit."""
    last_seq, stamp = rows[-1]["seq"], rows[-1]["timestamp"]
    if isinstance(conn, DriverConnection):
        columns = [[row[name] for row in rows] for name in COLUMNS[1:]]
        columns[4] = [_json_text(data) for data in columns[4]]  # event_data
        payload = f"{session_id}:{last_seq}"
        await conn.execute(_STORE, session_id, *columns, last_seq, stamp, CHANNEL, payload)
        return
    await conn.execute(insert(events), rows)
    await _count(conn, session_id, Counter(row["event_type"] for row in rows))
    await conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(last_seq=last_seq, last_event_at=stamp, updated_at=stamp)
    )
    await notify_change(conn, session_id, last_seq)


async def _count(conn: AsyncConnection, session_id: uuid.UUID, added: Counter) -> None:
    """Add to the session's per-type counts (PostgreSQL and SQLite share the upsert syntax)."""
    upsert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[conn.dialect.name]
    statement = upsert(event_type_counts).values(
        [{"session_id": session_id, "event_type": t, "events": n} for t, n in added.items()]
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "event_type"],
            set_={"events": event_type_counts.c.events + statement.excluded.events},
        )
    )


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def notify_change(conn: AsyncConnection, session_id: uuid.UUID, last_seq: int) -> None:
    """On PostgreSQL, tell every server process's listener at commit (see db/notify.py)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(CHANNEL, f"{session_id}:{last_seq}")))
