"""The sessions stream's reads on a table of many sessions: the resume scan and the others.

A resume with Last-Event-ID (and the hub's rescan after a lost listener) reads the sessions
changed since an instant: a scan of the sessions table, since an index on updated_at would be
updated by every append. This measures that scan, the snapshot and the hub's read by ids, on
`--sessions` sessions (default 100,000) of which the last `--recent` changed recently.

    .venv/bin/python -m perf.sessions_resume [--sessions 100000] [--recent 200] [--runs 20]

Uses EVENTS_DATABASE_URL when it names a PostgreSQL database, otherwise starts a throwaway server
from the machine's binaries. Prints one JSON line of milliseconds per query (p50, max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from session_events.db import migrate
from session_events.db import sessions as db_sessions
from session_events.db.engine import open_database
from session_events.db.session_filters import SessionFilters
from session_events.db.tables import sessions
from session_events.handlers.sessions_feed import RESUME_MARGIN
from session_events.settings import Settings
from support.pg_server import perf_database

TYPES = ("build", "test_generation", "agent", "nightly")


async def fill(database, count: int, recent: int, now: datetime) -> list[uuid.UUID]:
    """`count` sessions, a few minutes apart in the past but for the last `recent`, just now."""
    ids = [uuid.uuid4() for _ in range(count)]
    rows = []
    for n, session_id in enumerate(ids):
        at = now - (timedelta(seconds=1) if n >= count - recent else timedelta(minutes=count - n))
        rows.append(
            {
                "id": session_id,
                "session_type": TYPES[n % len(TYPES)],
                "status": "completed" if n % 3 else "in_progress",
                "project_path": None,
                "config": {},
                "created_at": at,
                "updated_at": at,
                "last_seq": n % 50,
                "last_event_at": at,
                "completed_at": None,
            }
        )
    async with database.write() as conn:
        await conn.execute(text("TRUNCATE events, event_type_counts, sessions, session_tombstones"))
        for start in range(0, count, 10_000):
            await conn.execute(insert(sessions), rows[start : start + 10_000])
    async with database.write() as conn:
        await conn.execute(text("ANALYZE sessions"))
    return ids


async def timed(runs: int, read) -> dict[str, float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        await read()
        took.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(took), 2), "max_ms": round(max(took), 2)}


async def measure(url: str, count: int, recent: int, runs: int) -> dict:
    database = open_database(Settings(database_url=url))
    try:
        await migrate.upgrade(database)
        now = datetime.now(UTC)
        ids = await fill(database, count, recent, now)
        since = now - RESUME_MARGIN

        async def resume(types=None):
            async with database.read() as conn:
                rows, _ = await db_sessions.changed_since(
                    conn, since, session_types=types, limit=1001
                )
            assert len(rows) == (recent if types is None else recent // len(TYPES))

        async def snapshot():
            async with database.read() as conn:
                await db_sessions.list_sessions(conn, limit=100, offset=0)

        async def snapshot_of_a_type():
            async with database.read() as conn:
                chosen = SessionFilters(status="in_progress", session_types=["nightly"])
                await db_sessions.list_sessions(conn, chosen, limit=100, offset=0)

        async def hub_read():
            async with database.read() as conn:
                await db_sessions.read_sessions(conn, ids[-recent:])

        async with database.read() as conn:
            plan = (
                await conn.execute(
                    text("EXPLAIN SELECT * FROM sessions WHERE updated_at > :since"),
                    {"since": since},
                )
            ).scalars()
            plan = " / ".join(plan)
        return {
            "sessions": count,
            "changed_recently": recent,
            "resume_scan": await timed(runs, resume),
            "resume_scan_of_one_type": await timed(runs, lambda: resume(["nightly"])),
            "snapshot_100": await timed(runs, snapshot),
            "snapshot_of_a_type_and_status": await timed(runs, snapshot_of_a_type),
            f"hub_read_{recent}_ids": await timed(runs, hub_read),
            "resume_plan": plan,
        }
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--recent", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with perf_database("sessions_resume") as url:
        figures = asyncio.run(measure(url, args.sessions, args.recent, args.runs))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
