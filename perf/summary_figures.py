"""GET /sessions/{id}/summary on one session of `--events` events (default 100,000: the
test-generation workflow of perf/workload.py, about a day of it), on PostgreSQL and SQLite.

    .venv/bin/python -m perf.summary_figures [--events 100000] [--runs 20]

PostgreSQL: EVENTS_DATABASE_URL when it names one, otherwise a throwaway server; SQLite: a
file in a temporary folder. The session is written as perf/generate.py writes its sets (COPY on
PostgreSQL, then VACUUM ANALYZE). Each request goes through the whole app (Connexion's routing,
the handler, response validation) in process, one at a time; the first is reported apart (cold
caches), then p50 and max of the rest, and the time of a 304. Prints one JSON line per database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from perf.generate import Writer, session_row
from perf.workload import EventMaker, SessionPlan, new_uuid
from session_events.app import create_app
from session_events.db import migrate
from session_events.db.engine import open_database
from session_events.settings import Settings, load_settings
from support.pg_server import perf_database

KEY = "perf-summary-key"
CHUNK = 50_000


async def build(url: str, count: int) -> SessionPlan:
    """One session of `count` events, in a database emptied first."""
    database = open_database(Settings(database_url=url, db_statement_timeout=600))
    writer = Writer(database)
    rng = random.Random(20260113)
    plan = SessionPlan(
        new_uuid(rng), count, "failed", datetime.now(UTC) - timedelta(minutes=5), "/repos/x"
    )
    try:
        await migrate.upgrade(database)
        await writer.reset()
        rows = [(plan.id, *row) for row in EventMaker(rng).events(plan)]
        message = next((row[6] for row in reversed(rows) if row[6] is not None), None)
        await writer.sessions([session_row(plan, rows[0][7], rows[-1][7], message)])
        for start in range(0, len(rows), CHUNK):
            await writer.events(rows[start : start + CHUNK])
        await writer.finish()
    finally:
        await database.dispose()
    return plan


def measure(url: str, plan: SessionPlan, runs: int) -> dict:
    environment = {
        "EVENTS_DATABASE_URL": url,
        "EVENTS_READ_KEYS": KEY,
        "EVENTS_LOG_LEVEL": "warning",
    }
    settings = load_settings(environment)
    path = f"/api/v2/sessions/{plan.id}/summary"
    headers = {"X-API-Key": KEY}
    with create_app(settings).test_client() as client:

        def timed(**more) -> tuple[float, object]:
            started = time.perf_counter()
            response = client.get(path, headers={**headers, **more})
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code in (200, 304), response.text
            return elapsed, response

        first, response = timed()
        warm = [timed()[0] for _ in range(runs)]
        not_modified = [
            timed(**{"If-None-Match": response.headers["etag"]})[0] for _ in range(runs)
        ]
    body = response.json()
    return {
        "events": plan.events,
        "steps_total": body["steps_total"],
        "event_types": len(body["event_types"]),
        "bucket_seconds": body["activity"]["bucket_seconds"],
        "first_ms": round(first, 1),
        "p50_ms": round(statistics.median(warm), 1),
        "max_ms": round(max(warm), 1),
        "304_p50_ms": round(statistics.median(not_modified), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with perf_database("perf_summary") as pg_url, tempfile.TemporaryDirectory() as folder:
        for name, url in (("postgresql", pg_url), ("sqlite", f"sqlite:///{folder}/summary.db")):
            plan = asyncio.run(build(url, args.events))
            print(json.dumps({"database": name, **measure(url, plan, args.runs)}), flush=True)


if __name__ == "__main__":
    main()
