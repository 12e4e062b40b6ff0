"""The events export of one large session: its throughput and the server's memory meanwhile.

Fills a session of N events (batches of 1000 through the service's own appends), starts one
server process with its defaults, warms it, then downloads the export (Accept:
application/x-ndjson) once per round while sampling the server's RSS from /proc every 20 ms:
events/s, MB/s, and the server's RSS before and at its peak.

    .venv/bin/python -m perf.export [--events 100000] [--backend sqlite|postgresql|both]

PostgreSQL: EVENTS_DATABASE_URL when it names one, otherwise a throwaway server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx

from perf.machine import load_average
from session_events.db import appends as db_appends
from session_events.db import migrate
from session_events.db import sessions as db_sessions
from session_events.db.engine import open_database
from session_events.settings import Settings
from support.live_server import READ_KEY, LiveServer
from support.pg_server import perf_database

STEP = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"
PAYLOAD = "x" * 400  # about 700 bytes a line
NDJSON = {"X-API-Key": READ_KEY, "Accept": "application/x-ndjson"}


async def fill_session(database_url: str, count: int) -> str:
    """A new session of `count` events in batches of 1000, through the service's own appends
    (the database migrated first): types a, b, c in turn; every tenth of STEP; every
    hundredth's message says timeout. Its id."""
    database = open_database(Settings(database_url=database_url))
    try:
        await migrate.upgrade(database)
        async with database.write() as conn:
            session = await db_sessions.create_session(conn, session_type="build")
        for start in range(0, count, 1000):
            batch = [
                {
                    "event_type": "abc"[n % 3],
                    "step_id": STEP if n % 10 == 0 else None,
                    "message": f"Compile TIMEOUT {n}" if n % 100 == 0 else f"event {n}",
                    "event_data": {"n": n, "payload": PAYLOAD},
                }
                for n in range(start, min(start + 1000, count))
            ]
            async with database.write_direct() as runner:
                await db_appends.append_events(runner, session_id=session["id"], new_events=batch)
        return str(session["id"])
    finally:
        await database.dispose()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class RssSampler(threading.Thread):
    """A process's resident set (KiB), sampled every 20 ms from start to stop: its peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.before = self.peak = rss_kib(pid)
        self.samples = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            self.samples += 1
            time.sleep(0.02)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def download(server: LiveServer, session_id: str) -> dict:
    """One export read whole: its size, lines, time, and the server's RSS meanwhile."""
    url = f"{server.base_url}/api/v2/sessions/{session_id}/events"
    sampler = RssSampler(server.process.pid)
    sampler.start()
    size = lines = 0
    started = time.perf_counter()
    with httpx.stream("GET", url, headers=NDJSON, timeout=300) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    return {
        "events": lines,
        "body_mb": round(size / 1e6, 1),
        "seconds": round(seconds, 2),
        "events_per_s": round(lines / seconds),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "rss_before_mb": round(sampler.before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
    }


def measure(database_url: str, events: int, rounds: int) -> list[dict]:
    session_id = asyncio.run(fill_session(database_url, events))
    log = Path(tempfile.mkdtemp(prefix="perf-export-")) / "server.log"
    server = LiveServer(database_url, log).start()
    try:
        warm = f"{server.base_url}/api/v2/sessions/{session_id}/events?until_seq=2000"
        httpx.get(warm, headers=NDJSON).raise_for_status()
        return [download(server, session_id) for _ in range(rounds)]
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    if args.backend in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="perf-export-"))
        for result in measure(f"sqlite:///{folder}/events.db", args.events, args.rounds):
            print(json.dumps({"backend": "sqlite", **result}))
    if args.backend in ("postgresql", "both"):
        with perf_database("perf_export") as url:
            for result in measure(url, args.events, args.rounds):
                print(json.dumps({"backend": "postgresql", **result}))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
