"""Appending events: seq and timestamps assigned under the session's row lock, idempotent by id.

One append, on any Runner: lock the session row (PostgreSQL FOR UPDATE; SQLite's writer holds
BEGIN IMMEDIATE already), read the events already stored under the batch's ids, then store the
new ones, add them to the per-type counts, move the session's counter and queue the NOTIFY
(on PostgreSQL one statement). The stored documents come back as the database builds them.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from db.dialects import QueryComponents
from db.errors import EventIdConflict, SessionNotFound
from db.statements import Runner, compiled_once
from db.tables import events, sessions

ONE_MICROSECOND = timedelta(microseconds=1)
COLUMNS = ("seq", "id", "step_id", "event_type", "event_data", "message", "timestamp")


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
    documents: list[str]  # the event documents as JSON text, one per input, in input order
    seqs: list[int]  # their seqs
    stored: int  # how many of them this append stored (the others were there already)


async def append_events(
    runner: Runner,
    *,
    session_id: uuid.UUID,
    new_events: list[dict[str, Any]],
    now: datetime | None = None,
) -> Appended:
    """Append events (dicts with event_type and optional id, event_data, message, step_id).

    An input whose id is already stored in this session returns the stored event and is not
    stored again; one stored in another session is an EventIdConflict. Runs in the runner's
    transaction (the caller's, on a Core connection): the session row is locked first, so
    concurrent appends to one session take turns and commit in seq order.
    """
    async with runner.transaction():
        return await _append(runner, session_id, new_events, now)


async def _append(runner: Runner, session_id, new_events, now) -> Appended:
    locked = await runner.row(_lock_statement(runner.dialect), {"session_id": session_id})
    if locked is None:
        raise SessionNotFound(session_id)
    last_seq, last_event_at = locked
    ids = list(dict.fromkeys(e["id"] for e in new_events if e.get("id")))
    answers: dict[uuid.UUID, tuple[int, str]] = {}  # by id: (seq, document)
    if ids:
        answers = await _read_stored(runner, session_id, ids)
    fresh: list[dict[str, Any]] = []
    order: list[uuid.UUID] = []
    for item in new_events:
        event_id = item.get("id")
        if event_id not in answers:
            event_id = event_id or uuid.uuid4()
            answers[event_id] = (last_seq + len(fresh) + 1, "")
            fresh.append(
                dict(
                    seq=last_seq + len(fresh) + 1,
                    id=event_id,
                    step_id=item.get("step_id"),
                    event_type=item["event_type"],
                    event_data=item.get("event_data") or {},
                    message=item.get("message"),
                )
            )
        order.append(event_id)
    if fresh:
        stamps = _timestamps(last_event_at, now or datetime.now(UTC), len(fresh))
        for row, stamp in zip(fresh, stamps, strict=True):
            row["timestamp"] = stamp
        by_seq = await _store(runner, session_id, fresh)
        for row in fresh:
            answers[row["id"]] = (row["seq"], by_seq[row["seq"]])
    chosen = [answers[event_id] for event_id in order]
    return Appended([doc for _, doc in chosen], [seq for seq, _ in chosen], len(fresh))


@compiled_once
def _lock_statement(_c: QueryComponents):
    session_id = bindparam("session_id", type_=sessions.c.id.type)
    query = select(sessions.c.last_seq, sessions.c.last_event_at).where(sessions.c.id == session_id)
    return query.with_for_update()


@compiled_once
def _stored_statement(c: QueryComponents, count: int):
    session_id = bindparam("session_id", type_=sessions.c.id.type)
    ids = [bindparam(f"id_{n}", type_=events.c.id.type) for n in range(count)]
    return select(
        events.c.id,
        (events.c.session_id == session_id).label("mine"),
        events.c.seq,
        c.as_text(c.event_document(events.c)),
    ).where(events.c.id.in_(ids))


async def _read_stored(runner: Runner, session_id, ids: list[uuid.UUID]) -> dict:
    """(seq, document) of the events already stored under these ids, by id; EventIdConflict if
    one is in another session."""
    values = {"session_id": session_id, **{f"id_{n}": i for n, i in enumerate(ids)}}
    rows = await runner.rows(_stored_statement(runner.dialect, len(ids)), values)
    for event_id, mine, _, _ in rows:
        if not mine:
            raise EventIdConflict(event_id)
    return {event_id: (seq, document) for event_id, _, seq, document in rows}


@compiled_once
def _store_statements(c: QueryComponents, row_count: int, type_count: int) -> list:
    session_id = bindparam("session_id", type_=sessions.c.id.type)
    rows = [
        {"session_id": session_id}
        | {name: bindparam(f"{name}_{n}", type_=events.c[name].type) for name in COLUMNS}
        for n in range(row_count)
    ]
    stored = (
        insert(events).values(rows).returning(events.c.seq, c.as_text(c.event_document(events.c)))
    )
    counts = c.upsert_counts(
        [
            {
                "session_id": session_id,
                "event_type": bindparam(f"type_{n}", type_=events.c.event_type.type),
                "events": bindparam(f"count_{n}", type_=events.c.seq.type),
            }
            for n in range(type_count)
        ]
    )
    stamp = bindparam("last_event_at", type_=sessions.c.last_event_at.type)
    counter = (
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(last_seq=bindparam("last_seq", type_=sessions.c.last_seq.type))
        .values(last_event_at=stamp, updated_at=stamp)
    )
    return c.together(stored, [counts, counter], bindparam("payload", type_=events.c.message.type))


async def _store(runner: Runner, session_id: uuid.UUID, fresh: list[dict]) -> dict[int, str]:
    """Store the rows, count them, move the counter, tell the listeners at commit; the stored
    documents by seq."""
    counts = Counter(row["event_type"] for row in fresh)
    last = fresh[-1]
    values: dict[str, Any] = {
        "session_id": session_id,
        "last_seq": last["seq"],
        "last_event_at": last["timestamp"],
        "payload": f"{session_id}:{last['seq']}",
    }
    for n, row in enumerate(fresh):
        values.update({f"{name}_{n}": row[name] for name in COLUMNS})
    for n, (event_type, count) in enumerate(counts.items()):
        values[f"type_{n}"], values[f"count_{n}"] = event_type, count
    documents: dict[int, str] = {}
    try:
        for n, statement in enumerate(_store_statements(runner.dialect, len(fresh), len(counts))):
            rows = await runner.rows(statement, values)
            if n == 0:
                documents = {row[0]: row[1] for row in rows}
    except IntegrityError:
        # Another session stored one of these ids between our read and our insert.
        raise EventIdConflict() from None
    return documents
