"""The event query functions against real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db import appends as db_appends
from db import events as db_events
from db import sessions as db_sessions
from db.errors import EventIdConflict, SessionNotFound
from db.tables import event_type_counts

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


async def new_session(database) -> uuid.UUID:
    async with database.write() as conn:
        return (await db_sessions.create_session(conn, session_type="test_generation"))["id"]


@pytest.fixture(params=["write", "write_direct"])
def via(request) -> str:
    """Both ways handlers append: a Core transaction, and the hot path (on PostgreSQL asyncpg
    itself, a batch without ids as one statement)."""
    return request.param


async def append(database, session_id, *event_types, now=None, ids=None, via="write"):
    batch = [
        {"event_type": t, "event_data": {"n": i}, "id": ids[i] if ids else None}
        for i, t in enumerate(event_types)
    ]
    async with getattr(database, via)() as conn:
        appended = await db_appends.append_events(
            conn, session_id=session_id, new_events=batch, now=now
        )
    return appended.events


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


async def test_read_seq_at_finds_the_newest_event_at_or_before(database):
    session_id = await new_session(database)
    stored = await append(database, session_id, "a", "b", "c", now=T0)
    async with database.read() as conn:

        async def seq_at(ts):
            return await db_events.read_seq_at(conn, session_id=session_id, timestamp=ts)

        assert await seq_at(T0 - MICRO) == 0
        assert await seq_at(stored[1]["timestamp"]) == 2
        assert await seq_at(stored[1]["timestamp"] + MICRO / 2) == 2
        assert await seq_at(T0 + timedelta(days=1)) == 3


async def test_count_is_arithmetic_without_a_type_and_counted_with_one(database):
    session_id = await new_session(database)
    await append(database, session_id, "a", "b", "a", "a", "b")
    async with database.read() as conn:
        assert await db_events.count_events(conn, db_events.SeqRange(session_id, 1, 4)) == 3
        typed = db_events.SeqRange(session_id, 1, 5, ("a",))
        assert await db_events.count_events(conn, typed) == 2
        assert await db_events.count_events(conn, db_events.SeqRange(session_id, 5, 5)) == 0


async def test_list_pages_newest_first_with_and_without_a_type(database):
    session_id = await new_session(database)
    await append(database, session_id, *["a", "b"] * 10)  # seq 1..20, a on odd seqs
    async with database.read() as conn:
        page2 = await db_events.list_events(
            conn, db_events.SeqRange(session_id, 0, 20), limit=5, offset=5
        )
        typed = await db_events.list_events(
            conn, db_events.SeqRange(session_id, 2, 20, ("a",)), limit=3, offset=2
        )
        bounded = await db_events.list_events(conn, db_events.SeqRange(session_id, 0, 12), limit=3)
        beyond = await db_events.list_events(
            conn, db_events.SeqRange(session_id, 0, 20), limit=5, offset=20
        )
    assert [e["seq"] for e in page2] == [15, 14, 13, 12, 11]
    assert [e["seq"] for e in typed] == [15, 13, 11]
    assert [e["seq"] for e in bounded] == [12, 11, 10]
    assert beyond == []


async def test_eight_concurrent_writers_give_gap_free_seq_and_increasing_timestamps(database, via):
    session_id = await new_session(database)

    async def writer(number):
        for _ in range(50):
            await append(database, session_id, f"writer_{chr(97 + number)}", via=via)

    await asyncio.gather(*(writer(n) for n in range(8)))
    async with database.read() as conn:
        rows = await db_events.list_events(
            conn, db_events.SeqRange(session_id, 0, 10_000), limit=1000
        )
    rows = list(reversed(rows))
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
                conn, session_id=first, new_events=[{"event_type": "a", "id": event_id}]
            )
            a_inserted.set()
            await release_a.wait()

    async def writer_b():
        await a_inserted.wait()
        async with database.write() as conn:
            await db_appends.append_events(
                conn, session_id=second, new_events=[{"event_type": "b", "id": event_id}]
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


async def test_pages_run_oldest_first_when_ascending(database):
    session_id = await new_session(database)
    await append(database, session_id, *["a", "b", "c"] * 10)  # a on seq 1, 4, 7, ...
    async with database.read() as conn:

        async def seqs(seq_range, **page):
            return [e["seq"] for e in await db_events.list_events(conn, seq_range, **page)]

        everything = db_events.SeqRange(session_id, 5, 25)
        assert await seqs(everything, limit=4, offset=4, ascending=True) == [10, 11, 12, 13]
        assert await seqs(everything, limit=4, offset=20, ascending=True) == []
        typed = db_events.SeqRange(session_id, 5, 25, ("a",))
        assert await seqs(typed, limit=3, offset=1, ascending=True) == [10, 13, 16]


async def test_several_types_merge_in_seq_order_both_ways(database):
    session_id = await new_session(database)
    await append(database, session_id, *["a", "b", "c"] * 10)
    two_types = db_events.SeqRange(session_id, 3, 30, ("c", "a"))
    async with database.read() as conn:
        newest = await db_events.list_events(conn, two_types, limit=4, offset=2)
        oldest = await db_events.list_events(conn, two_types, limit=4, offset=2, ascending=True)
        assert await db_events.count_events(conn, two_types) == 18
    assert [e["seq"] for e in newest] == [27, 25, 24, 22]
    assert [e["seq"] for e in oldest] == [7, 9, 10, 12]
