"""db/summary.py's aggregates on both databases, with timestamps chosen (appends take `now`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from session_events.db import sessions as db_sessions
from session_events.db import summary as db_summary
from session_events.db.appends import append_events
from session_events.db.statements import CoreRunner

T0 = datetime(2026, 1, 13, 14, 30, 59, 999_999, tzinfo=UTC)  # the minute's last microsecond


async def session_at(database, stamps: list[datetime], event_type: str = "tick") -> uuid.UUID:
    """A session with one event appended at each instant (in order)."""
    session_id = uuid.uuid4()
    async with database.write() as conn:
        await db_sessions.create_session(conn, session_type="build", session_id=session_id)
        for at in stamps:
            one = [{"event_type": event_type}]
            await append_events(CoreRunner(conn), session_id=session_id, new_events=one, now=at)
    return session_id


async def test_activity_counts_each_utc_minute_from_the_first_to_the_last(database):
    minutes = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(minutes=3, seconds=1)]
    session_id = await session_at(database, minutes)

    async with database.read() as conn:
        activity = await db_summary.read_activity(conn, session_id, last_seq=3)

    assert activity == db_summary.Activity(
        datetime(2026, 1, 13, 14, 30, tzinfo=UTC), 60, [1, 1, 0, 0, 1]
    )


async def test_activity_stops_at_the_seq_the_session_row_said(database):
    session_id = await session_at(database, [T0, T0 + timedelta(minutes=1)])

    async with database.read() as conn:
        activity = await db_summary.read_activity(conn, session_id, last_seq=1)

    assert activity.counts == [1]


async def test_a_long_session_is_folded_into_wider_buckets(database):
    hours = [T0 + timedelta(hours=h) for h in range(6)]  # spans 301 minutes
    session_id = await session_at(database, hours)

    async with database.read() as conn:
        activity = await db_summary.read_activity(conn, session_id, last_seq=6)

    assert activity.bucket_seconds == 120
    assert len(activity.counts) == 151
    assert sum(activity.counts) == 6
    assert [n for n, count in enumerate(activity.counts) if count] == [0, 30, 60, 90, 120, 150]


async def test_the_first_error_is_the_lowest_seq_of_any_error_type(database):
    session_id = await session_at(database, [T0], "log")
    async with database.write() as conn:
        runner = CoreRunner(conn)
        kinds = ["test_failed", "log", "compile_error", "test_failed"]
        for kind in kinds:
            one = [{"event_type": kind}]
            await append_events(runner, session_id=session_id, new_events=one)
    types = ["compile_error", "log", "test_failed"]

    async with database.read() as conn:
        first = await db_summary.read_first_error(conn, session_id, 5, types)
        bounded = await db_summary.read_first_error(conn, session_id, 1, types)
        none = await db_summary.read_first_error(conn, session_id, 5, ["log"])

    assert '"seq":2' in first.replace(" ", "") and "test_failed" in first
    assert (bounded, none) == (None, None)


def test_fold_keeps_to_the_bucket_limit_with_the_fewest_whole_minutes():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for span in (1, 239, 240, 241, 480, 481, 10_000):
        last = start + timedelta(minutes=span - 1)
        activity = db_summary.fold_minutes([(start, 2), (last, 3)])
        width = activity.bucket_seconds // 60
        assert len(activity.counts) <= db_summary.MAX_BUCKETS
        assert width == 1 or -(-span // (width - 1)) > db_summary.MAX_BUCKETS
        assert sum(activity.counts) == 5 and activity.counts[-1] >= 3
