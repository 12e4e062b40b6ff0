"""Build the performance data sets of perf/ in minutes, through the project's own tables.

    .venv/bin/python -m perf.generate --database-url postgresql://... [--huge] [--reset]

The standard set is 200 sessions: every 10th has 10,000 events, the other even ones 1,000, the
odd ones 100 (290,000 events); `--huge` adds one session of 1,000,000 events. The events are
a TestBoost test-generation workflow (perf/workload.py): status changes, steps, LLM calls,
generated and failing tests, coverage, about 1.5% workflow_error events; payloads of 50 to 350
bytes. Within a session seq is 1..N without gaps and timestamps strictly increase; each
session's counters (last_seq, last_event_at, updated_at, completed_at, last_message) agree with
its events, as the service's own appends would leave them. The 10k sessions and the huge one are
in_progress (being watched); the others are mixed (completed, failed, cancelled, paused,
in_progress).

The database is migrated first (db/migrate.py). On PostgreSQL events go in with COPY (asyncpg's
copy_records_to_table on the raw connection), then VACUUM ANALYZE; on SQLite with executemany
inserts. A non-empty database is refused unless `--reset` (which empties both tables) is given.
A JSON manifest of what was built (default .data/perf-manifest.json) is what perf/bench and
perf/locustfile.py read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import func, insert, select, text, update

from perf.workload import EventMaker, SessionPlan, new_uuid
from session_events.db import migrate
from session_events.db.engine import Database, open_database
from session_events.db.tables import event_type_counts, events, sessions
from session_events.settings import Settings

DEFAULT_MANIFEST = Path(".data/perf-manifest.json")
HUGE_EVENTS = 1_000_000
CHUNK = 50_000  # events per COPY / executemany
COLUMNS = ("session_id", "seq", "id", "step_id", "event_type", "event_data", "message", "timestamp")
OTHER_STATUSES = ("completed", "completed", "failed", "cancelled", "paused", "in_progress")


def standard_sizes(count: int = 200) -> list[int]:
    """Every 10th session 10,000 events, the other even ones 1,000, the odd ones 100."""
    return [10_000 if i % 10 == 0 else 1_000 if i % 2 == 0 else 100 for i in range(count)]


def plan_sessions(rng: random.Random, huge: bool, now: datetime) -> list[SessionPlan]:
    plans = []
    for i, size in enumerate(standard_sizes()):
        # Sessions watched by the scenarios are live; a quarter of the small ones too (the
        # append and stream scenarios use them); the rest have finished one way or another.
        live = size == 10_000 or i % 4 == 1
        status = "in_progress" if live else rng.choice(OTHER_STATUSES)
        ends_at = now - timedelta(seconds=60 if status == "in_progress" else 3600 + 600 * i)
        ends_at -= timedelta(microseconds=rng.randint(0, 999_999))
        project = f"/repos/{rng.choice(('petclinic', 'billing', 'inventory', 'orders'))}-{i}"
        plans.append(SessionPlan(new_uuid(rng), size, status, ends_at, project))
    if huge:
        plans.append(
            SessionPlan(
                new_uuid(rng),
                HUGE_EVENTS,
                "in_progress",
                now - timedelta(seconds=30),
                "/repos/monorepo",
                session_type="test_generation",
            )
        )
    return plans


class Writer:
    """Writes sessions and chunks of events through db.engine.Database, per backend."""

    def __init__(self, database: Database):
        self.database = database

    async def count_sessions(self) -> int:
        async with self.database.read() as conn:
            return (await conn.execute(select(func.count()).select_from(sessions))).scalar_one()

    async def reset(self) -> None:
        async with self.database.write() as conn:
            if self.database.backend == "postgresql":
                await conn.execute(text("TRUNCATE events, event_type_counts, sessions"))
            else:
                await conn.execute(events.delete())
                await conn.execute(event_type_counts.delete())
                await conn.execute(sessions.delete())

    async def sessions(self, rows: list[dict]) -> None:
        async with self.database.write() as conn:
            await conn.execute(insert(sessions), rows)

    async def last_message(self, session_id, message: str | None) -> None:
        async with self.database.write() as conn:
            done = update(sessions).where(sessions.c.id == session_id)
            await conn.execute(done.values(last_message=message))

    async def events(self, rows: list[tuple]) -> None:
        async with self.database.write() as conn:
            if self.database.backend == "postgresql":
                await conn.execute(text("SET LOCAL statement_timeout = 0"))
                raw = (await conn.get_raw_connection()).driver_connection
                records = [
                    (s, q, i, st, et, orjson.dumps(d).decode(), m, ts)
                    for s, q, i, st, et, d, m, ts in rows
                ]
                await raw.copy_records_to_table("events", records=records, columns=COLUMNS)
            else:
                records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
                await conn.execute(insert(events), records)

    async def finish(self) -> None:
        """The per-type counts appends would have kept, then fresh statistics (and a visibility
        map) for the planner, as a settled table has."""
        async with self.database.write() as conn:
            if self.database.backend == "postgresql":
                await conn.execute(text("SET LOCAL statement_timeout = 0"))
            await conn.execute(
                text(
                    "INSERT INTO event_type_counts (session_id, event_type, events)"
                    " SELECT session_id, event_type, count(*) FROM events"
                    " GROUP BY session_id, event_type"
                )
            )
        if self.database.backend == "postgresql":
            async with self.database.reader.connect() as conn:
                await conn.execute(text("SET statement_timeout = 0"))
                await conn.execute(text("VACUUM ANALYZE sessions, events, event_type_counts"))
        else:
            async with self.database.write() as conn:
                await conn.execute(text("ANALYZE"))


def session_row(
    plan: SessionPlan, first: datetime, last: datetime, last_message: str | None = None
) -> dict:
    terminal = plan.status in ("completed", "failed", "cancelled")
    return dict(
        id=plan.id,
        session_type=plan.session_type,
        status=plan.status,
        project_path=plan.project,
        config={"model": "claude-sonnet-4", "target_coverage": 0.8, "max_retries": 3},
        created_at=first - timedelta(seconds=2),
        updated_at=last,
        last_seq=plan.events,
        last_event_at=last,
        completed_at=last if terminal else None,
        last_message=last_message,
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Progress:
    """A line on stderr every few seconds: how many of the events are stored."""

    def __init__(self, total: int, every: float = 3.0):
        self.total, self.done, self.every = total, 0, every
        self.reported = time.monotonic()

    def stored(self, count: int) -> None:
        self.done += count
        if time.monotonic() - self.reported >= self.every:
            self.reported = time.monotonic()
            print(f"  {self.done:,} of {self.total:,} events stored", file=sys.stderr, flush=True)


async def generate(url: str, *, huge: bool, reset: bool, seed: int, manifest_path: Path) -> dict:
    database = open_database(Settings(database_url=url, db_statement_timeout=600))
    writer = Writer(database)
    started = time.perf_counter()
    try:
        await migrate.upgrade(database)
        existing = await writer.count_sessions()
        if existing and not reset:
            raise SystemExit(
                f"The database already holds {existing} sessions: pass --reset to empty it first."
            )
        if existing:
            await writer.reset()
        rng = random.Random(seed)
        maker = EventMaker(rng)
        plans = plan_sessions(rng, huge, datetime.now(UTC))
        timings: dict[str, float] = {}
        types: Counter = Counter()
        rows = []
        progress = Progress(sum(plan.events for plan in plans))
        for plan in plans:
            kind = "huge" if plan.events == HUGE_EVENTS else "standard"
            set_started = time.perf_counter()
            chunk: list[tuple] = []
            first = last = since = newest_message = None
            stored = False  # the session row goes in first (the events' foreign key)
            for seq, event_id, step_id, event_type, data, message, ts in maker.events(plan):
                first = first or ts
                last = ts
                newest_message = message if message is not None else newest_message
                if seq == plan.events - 10:
                    since = ts
                types[event_type] += 1
                chunk.append((plan.id, seq, event_id, step_id, event_type, data, message, ts))
                if len(chunk) == CHUNK:
                    if not stored:
                        await writer.sessions([session_row(plan, first, plan.ends_at)])
                        stored = True
                    await writer.events(chunk)
                    progress.stored(len(chunk))
                    chunk = []
            assert last == plan.ends_at
            if stored:  # the row went in before its events' messages were known
                await writer.last_message(plan.id, newest_message)
            else:
                await writer.sessions([session_row(plan, first, last, newest_message)])
            if chunk:
                await writer.events(chunk)
                progress.stored(len(chunk))
            timings[kind] = timings.get(kind, 0.0) + time.perf_counter() - set_started
            rows.append((plan, since))
        vacuum_started = time.perf_counter()
        await writer.finish()
        timings["vacuum_analyze"] = time.perf_counter() - vacuum_started
    finally:
        await database.dispose()

    def entry(plan: SessionPlan, since: datetime) -> dict:
        return {
            "id": str(plan.id),
            "status": plan.status,
            "latest_seq": plan.events,
            "poll_since": _stamp(since),  # the timestamp of the event 10 before the newest
        }

    manifest = {
        "database_url": url.split("@")[-1],
        "generated_at": _stamp(datetime.now(UTC)),
        "seed": seed,
        "events": sum(plan.events for plan in plans),
        "event_types": dict(types.most_common()),
        "sessions_10k": [entry(p, s) for p, s in rows if p.events == 10_000],
        "sessions_1k": [entry(p, s) for p, s in rows if p.events == 1_000],
        "sessions_100": [entry(p, s) for p, s in rows if p.events == 100],
        # Live small sessions: appends (perf/bench, locust producers) and streams go there,
        # so the sessions the read scenarios use never change.
        "append_sessions": [
            str(p.id) for p, _ in rows if p.events == 100 and p.status == "in_progress"
        ][:20],
        "stream_sessions": [
            str(p.id) for p, _ in rows if p.events == 1_000 and p.status == "in_progress"
        ],
        "huge": next((entry(p, s) for p, s in rows if p.events == HUGE_EVENTS), None),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "total_s": round(time.perf_counter() - started, 1),
    }
    manifest["latest_seq"] = {
        e["id"]: e["latest_seq"]
        for e in [*manifest["sessions_10k"], *([manifest["huge"]] if manifest["huge"] else [])]
    }
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://... or sqlite:///...")
    parser.add_argument("--huge", action="store_true", help="also one session of 1,000,000 events")
    parser.add_argument("--reset", action="store_true", help="empty a non-empty database first")
    parser.add_argument("--seed", type=int, default=20260113)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    args = parser.parse_args(argv)
    manifest = asyncio.run(
        generate(
            args.database_url,
            huge=args.huge,
            reset=args.reset,
            seed=args.seed,
            manifest_path=args.manifest,
        )
    )
    sessions_count = sum(len(manifest[k]) for k in ("sessions_10k", "sessions_1k", "sessions_100"))
    timings = ", ".join(f"{k} {v} s" for k, v in manifest["timings_s"].items())
    print(
        f"Built {sessions_count + bool(manifest['huge'])} sessions, {manifest['events']:,} events "
        f"in {manifest['total_s']} s ({timings})."
    )
    print("Event types: " + ", ".join(f"{k} {v:,}" for k, v in manifest["event_types"].items()))
    if manifest["huge"]:
        print(f"Huge session: {manifest['huge']['id']} ({HUGE_EVENTS:,} events)")
    print(f"Manifest: {args.manifest}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
