"""Appends against real SQLite files and a real PostgreSQL database (pages: test_pages.py)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from session_events.db import appends as db_appends
from session_events.db import sessions as db_sessions
from session_events.db.errors import EventIdConflict, SessionNotFound
from session_events.db.json_codec import loads
from session_events.db.statements import CoreRunner
from session_events.db.tables import event_type_counts, events

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


async def new_session(database) -> uuid.UUID:
    async with database.write() as conn:
        return (await db_sessions.create_session(conn, session_type="test_generation"))["id"]


@pytest.fixture(params=["write", "write_direct"])
def via(request) -> str:
    """Both ways appends run: in a Core transaction (status changes), and the hot path (on
    PostgreSQL the pooled connection's driver, in a transaction of its own)."""
    return request.param


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def append(database, session_id, *event_types, now=None, ids=None, via="write"):
    """The stored documents, parsed (timestamps as datetimes)."""
    batch = [
        {"event_type": t, "event_data": {"n": i}, "id": ids[i] if ids else None}
        for i, t in enumerate(event_types)
    ]
    if via == "write":
        async with database.write() as conn:
            appended = await db_appends.append_events(
                CoreRunner(conn), session_id=session_id, new_events=batch, now=now
            )
    else:
        async with database.write_direct() as runner:
            appended = await db_appends.append_events(
                runner, session_id=session_id, new_events=batch, now=now
            )
    documents = [loads(document) for document in appended.documents]
    assert [d["seq"] for d in documents] == appended.seqs
    return [{**d, "timestamp": utc(d["timestamp"])} for d in documents]


async def stored_rows(database, session_id):
    async with database.read() as conn:
        query = select(events).where(events.c.session_id == session_id).order_by(events.c.seq)
        return list((await conn.execute(query)).mappings())


async def test_seq_is_gap_free_across_batches(database, via):
    session_id = await new_session(database)
    first = await append(database, session_id, "a", "b", "c", via=via)
    second = await append(database, session_id, "d", via=via)
    assert [e["seq"] for e in first + second] == [1, 2, 3, 4]


async def test_timestamps_of_one_instant_are_spread_by_a_microsecond(database, via):
    session_id = await new_session(database)
    stored = await append(database, session_id, "a", "b", "c", now=T0, via=via)
    assert [e["timestamp"] for e in stored] == [T0, T0 + MICRO, T0 + 2 * MICRO]


async def test_a_clock_going_back_still_gives_later_timestamps(database, via):
    session_id = await new_session(database)
    await append(database, session_id, "a", now=T0, via=via)
    later = await append(database, session_id, "b", now=T0 - timedelta(seconds=5), via=via)
    assert later[0]["timestamp"] == T0 + MICRO


async def test_append_updates_the_session_counter(database, via):
    session_id = await new_session(database)
    await append(database, session_id, "a", "b", now=T0, via=via)
    async with database.read() as conn:
        session = await db_sessions.read_session(conn, session_id)
    assert (session["last_seq"], session["last_event_at"]) == (2, T0 + MICRO)


async def test_append_to_an_unknown_session_raises(database, via):
    with pytest.raises(SessionNotFound):
        await append(database, uuid.uuid4(), "a", via=via)


async def test_a_stored_id_is_returned_not_stored_again(database, via):
    session_id = await new_session(database)
    event_id = uuid.uuid4()
    first = await append(database, session_id, "a", ids=[event_id], via=via)
    again = await append(database, session_id, "a", "b", ids=[event_id, None], via=via)
    assert again[0]["seq"] == first[0]["seq"] == 1
    assert again[0]["timestamp"] == first[0]["timestamp"]
    assert again[1]["seq"] == 2


async def test_an_id_of_another_session_is_a_conflict_and_stores_nothing(database, via):
    first, second = await new_session(database), await new_session(database)
    event_id = uuid.uuid4()
    await append(database, first, "a", ids=[event_id], via=via)
    with pytest.raises(EventIdConflict, match=str(event_id)):
        await append(database, second, "b", "a", ids=[None, event_id], via=via)
    async with database.read() as conn:
        assert (await db_sessions.read_session(conn, second))["last_seq"] == 0


async def test_eight_concurrent_writers_give_gap_free_seq_and_increasing_timestamps(database, via):
    session_id = await new_session(database)

    async def writer(number):
        for _ in range(50):
            await append(database, session_id, f"writer_{chr(97 + number)}", via=via)

    await asyncio.gather(*(writer(n) for n in range(8)))
    rows = await stored_rows(database, session_id)
    assert [r["seq"] for r in rows] == list(range(1, 401))
    stamps = [r["timestamp"] for r in rows]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    async with database.read() as conn:
        query = select(event_type_counts.c.event_type, event_type_counts.c.events)
        counts = {event_type: n for event_type, n in (await conn.execute(query)).all()}
        session = await db_sessions.read_session(conn, session_id)
    assert counts == {f"writer_{chr(97 + n)}": 50 for n in range(8)}
    assert (session["last_seq"], session["last_event_at"]) == (400, stamps[-1])


async def test_an_id_raced_into_another_session_is_a_conflict(database):
    """B appends an id A has inserted but not committed yet: B must fail, not store it twice."""
    first, second = await new_session(database), await new_session(database)
    event_id = uuid.uuid4()
    a_inserted, release_a = asyncio.Event(), asyncio.Event()

    async def writer_a():
        async with database.write() as conn:
            await db_appends.append_events(
                CoreRunner(conn), session_id=first, new_events=[{"event_type": "a", "id": event_id}]
            )
            a_inserted.set()
            await release_a.wait()

    async def writer_b():
        await a_inserted.wait()
        async with database.write() as conn:
            await db_appends.append_events(
                CoreRunner(conn),
                session_id=second,
                new_events=[{"event_type": "b", "id": event_id}],
            )

    task_a = asyncio.create_task(writer_a())
    task_b = asyncio.create_task(writer_b())
    await a_inserted.wait()
    await asyncio.sleep(0.3)  # let B reach the database and wait there (row lock or pool)
    release_a.set()
    await task_a
    with pytest.raises(EventIdConflict):
        await task_b
    async with database.read() as conn:
        assert (await db_sessions.read_session(conn, second))["last_seq"] == 0
