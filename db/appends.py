"""Appending events: seq and timestamps assigned under the session's row lock, idempotent by id.

One statement stores a batch (on PostgreSQL one round trip; SQLite runs its parts in order in the
writer's BEGIN IMMEDIATE): it locks the session row, numbers the batch's rows after the session's
counter, stamps them, stores them, adds them to the per-type counts, moves the counter (and the
session's last message) and queues the NOTIFY. The batch travels as one JSON parameter, so the
statement has one shape whatever the batch holds. A batch carrying client ids first takes the lock
and reads the events already stored under them, in one transaction, and stores only the others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from session_events.db.errors import EventIdConflict, SessionNotFound
from session_events.db.json_codec import dumps_text
from session_events.db.query_components import QueryComponents, joined
from session_events.db.statements import Runner, compiled_once
from session_events.db.tables import event_type_counts, events, sessions

STATUS_CHANGED = "status_changed"  # the event each status change appends (db/sessions.py)


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
    stored again; one stored in another session is an EventIdConflict. Concurrent appends to one
    session take turns at the session row and commit in seq order.
    """
    now = now or datetime.now(UTC)
    ids = list(dict.fromkeys(e["id"] for e in new_events if e.get("id")))
    if not ids:
        fresh = [{**item, "id": uuid.uuid4()} for item in new_events]
        return Appended(*await _store(runner, session_id, fresh, now), len(fresh))
    async with runner.transaction():
        return await _append_known(runner, session_id, new_events, ids, now)


async def _append_known(runner: Runner, session_id, new_events, ids, now) -> Appended:
    """A batch with client ids: lock, look the ids up, store the rest; its inputs in order."""
    if await runner.row(_lock_statement(runner.dialect), {"session_id": session_id}) is None:
        raise SessionNotFound(session_id)
    answers = await _read_stored(runner, session_id, ids)  # by id: (seq, document)
    fresh: list[dict[str, Any]] = []
    order: list[uuid.UUID] = []
    for item in new_events:
        event_id = item.get("id") or uuid.uuid4()
        if event_id not in answers:
            answers[event_id] = (0, "")  # a repeat in this batch is the same event
            fresh.append({**item, "id": event_id})
        order.append(event_id)
    if fresh:
        documents, seqs = await _store(runner, session_id, fresh, now)
        for row, document, seq in zip(fresh, documents, seqs, strict=True):
            answers[row["id"]] = (seq, document)
    chosen = [answers[event_id] for event_id in order]
    return Appended([doc for _, doc in chosen], [seq for seq, _ in chosen], len(fresh))


@compiled_once
def _lock_statement(c: QueryComponents):
    session_id = bindparam("session_id", type_=sessions.c.id.type)
    return c.locked(select(sessions.c.last_seq).where(sessions.c.id == session_id))


@compiled_once
def _stored_statement(c: QueryComponents):
    session_id = bindparam("session_id", type_=sessions.c.id.type)
    return select(
        events.c.id,
        (events.c.session_id == session_id).label("mine"),
        events.c.seq,
        c.as_text(c.event_document(events.c)),
    ).where(events.c.id.in_(c.uuids_of(bindparam("ids", type_=Text))))


async def _read_stored(runner: Runner, session_id, ids: list[uuid.UUID]) -> dict:
    """(seq, document) of the events already stored under these ids, by id; EventIdConflict if
    one is in another session."""
    values = {"session_id": session_id, "ids": dumps_text([str(i) for i in ids])}
    rows = await runner.rows(_stored_statement(runner.dialect), values)
    for event_id, mine, _, _ in rows:
        if not mine:
            raise EventIdConflict(event_id)
    return {event_id: (seq, document) for event_id, _, seq, document in rows}


@compiled_once
def _store_statements(c: QueryComponents) -> list:
    """Stamps: max(now, the session's newest + 1 µs) for the first row, then 1 µs apart, so a
    session's timestamps strictly increase even when the clock steps back."""
    session_id = bindparam("session_id", type_=sessions.c.id.type)
    count = bindparam("count", type_=BigInteger)
    now = bindparam("now", type_=events.c.timestamp.type)
    newest = sessions.c.last_event_at
    first = c.greatest(now, func.coalesce(c.plus_microseconds(newest, 1), now))
    locked = c.locked(
        select(sessions.c.last_seq, first.label("first_stamp")).where(sessions.c.id == session_id)
    ).cte("locked")
    batch = c.batch_rows(bindparam("batch", type_=Text))
    rows = select(
        session_id,
        locked.c.last_seq + batch.c.k,
        batch.c.id,
        batch.c.step_id,
        batch.c.event_type,
        batch.c.event_data,
        batch.c.message,
        c.plus_microseconds(locked.c.first_stamp, batch.c.k - 1),
    ).select_from(joined(locked, batch))
    columns = ["session_id", "seq", "id", "step_id", "event_type", "event_data", "message"]
    stored = (
        insert(events)
        .from_select([*columns, "timestamp"], rows)
        .returning(events.c.seq, c.as_text(c.event_document(events.c)))
    )
    per_type = (
        select(session_id, batch.c.event_type, func.count())
        .select_from(joined(locked, batch))
        .group_by(batch.c.event_type)
    )
    counts = _add_counts(c, per_type)
    last_stamp = c.plus_microseconds(locked.c.first_stamp, count - 1)
    counter = (
        update(sessions)
        .where(sessions.c.id == session_id, locked.c.last_seq.is_not(None))  # FROM locked
        .values(
            last_seq=locked.c.last_seq + count,
            last_event_at=last_stamp,
            updated_at=last_stamp,
            last_message=func.coalesce(_newest_message(batch), sessions.c.last_message),
        )
    )
    prefix = bindparam("notify_prefix", type_=String)
    payload = prefix.concat(cast(locked.c.last_seq + count, String))
    return c.together(stored, [counts, counter], payload)


async def _store(runner: Runner, session_id: uuid.UUID, fresh: list[dict], now: datetime):
    """Store the rows (ids assigned): their documents and seqs, in the rows' order."""
    batch = [
        {
            "k": k,
            "id": str(row["id"]),
            "step_id": None if row.get("step_id") is None else str(row["step_id"]),
            "event_type": row["event_type"],
            "event_data": dumps_text(row.get("event_data") or {}),
            "message": row.get("message"),
        }
        for k, row in enumerate(fresh, start=1)
    ]
    values = {
        "session_id": session_id,
        "batch": dumps_text(batch),
        "count": len(fresh),
        "now": now,
        "notify_prefix": f"{session_id}:",
    }
    stored: list[tuple] = []
    try:
        for n, statement in enumerate(_store_statements(runner.dialect)):
            rows = await runner.rows(statement, values)
            if n == 0:
                if not rows:
                    raise SessionNotFound(session_id)
                stored = sorted((seq, document) for seq, document, *_ in rows)
    except IntegrityError as error:
        if not runner.components.is_duplicate_event_id(error):
            raise
        # Another session stored one of these ids after they were looked up.
        raise EventIdConflict() from None
    return [document for _, document in stored], [seq for seq, _ in stored]


def _newest_message(batch):
    """The message of the batch's newest row that has one, status changes aside (NULL when none
    has): a failed run's row shows why it failed, not "in_progress -> failed", which its status
    badge already says."""
    said = and_(batch.c.message.is_not(None), batch.c.event_type != STATUS_CHANGED)
    return select(batch.c.message).where(said).order_by(batch.c.k.desc()).limit(1).scalar_subquery()


def _add_counts(c: QueryComponents, per_type):
    """Add to each session's per-type counts the rows of (session_id, event_type, events)
    (inserting the types it had none of)."""
    # WHERE true: SQLite's parser would read the ON of ON CONFLICT as a join's otherwise.
    rows = per_type.where(true())
    statement = c.upsert(event_type_counts).from_select(
        ["session_id", "event_type", "events"], rows
    )
    return statement.on_conflict_do_update(
        index_elements=["session_id", "event_type"],
        set_={"events": event_type_counts.c.events + statement.excluded.events},
    )
