"""What one PostgreSQL primary sustains with the service in front, and what runs out first
(issue 27; docs/scaling.md reads the figures).

`session-events serve --workers N` on a PostgreSQL of this machine (a throwaway cluster from
support/pg_server.py, by default with a primary's durability: fsync, synchronous_commit and
full_page_writes on; or EVENTS_DATABASE_URL), loaded by wrk, rounds of one run per scenario:
appends of 1 and of 100 events (with and without client ids; once with LISTENERS more
connections listening, as that many more server processes would), a poll that finds 10 events
(200) and the caught-up poll with its ETag (304). Each scenario's rates; the CPU time per
request of the server processes, of PostgreSQL (the postmaster and all its children) and of
wrk, from /proc; WAL bytes, full-page images, WAL syncs and transactions (pg_stat_wal,
pg_stat_database). Then the connections and each backend's private memory, retention by
DELETE against dropping a table of the same rows, and the disk's fsync rate.

    .venv/bin/python -m perf.primary_limits [--workers 2] [--rounds 3] [--duration 10]
        [--connections 32] [--durability durable|throwaway]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from perf.load import WRK_DIR, wrk_command, wrk_result
from perf.machine import announced_facts, load_average
from perf.paths import events_path
from perf.primary_probes import (
    STATS_SQL,
    WAL_SQL,
    DurablePostgres,
    Listeners,
    backend_memory,
    children_cpu,
    fsync_rate,
    machine_busy,
    postmaster_pid,
    query,
)
from perf.tables import print_both
from support.live_server import READ_KEY, WRITE_KEY, LiveServer
from support.pg_server import PostgresServer
from support.processes import cpu_seconds, rss_mb

POLLED_SESSIONS, POLLED_EVENTS = 20, 200
LISTENERS = 48  # as many more server processes' LISTEN connections


def prepare(base_url: str, appended: int) -> tuple[list[str], list[str], list[str]]:
    """Sessions to append to, and the polls of sessions of POLLED_EVENTS events: misses
    (the 10 newest) and hits (caught up, with the ETag)."""
    with httpx.Client(base_url=base_url, headers={"X-API-Key": WRITE_KEY}, timeout=30) as http:

        def session() -> str:
            made = http.post("/api/v2/sessions", json={"session_type": "perf"})
            made.raise_for_status()
            return made.json()["id"]

        targets = [session() for _ in range(appended)]
        misses, hits = [], []
        for _ in range(POLLED_SESSIONS):
            sid = session()
            batch = [{"event_type": "tick", "message": f"e{n}"} for n in range(100)]
            for _ in range(POLLED_EVENTS // 100):
                http.post(
                    f"/api/v2/sessions/{sid}/events", json={"events": batch}
                ).raise_for_status()
            misses.append(events_path(sid, f"after_seq={POLLED_EVENTS - 10}&order=asc&per_page=50"))
            caught_up = events_path(sid, f"after_seq={POLLED_EVENTS}&order=asc&per_page=50")
            answer = http.get(caught_up, headers={"X-API-Key": READ_KEY})
            hits.append(f"{caught_up} {answer.headers['etag']}")
    return targets, misses, hits


def run(server: LiveServer, url: str, postmaster: int | None, scenario: tuple, args) -> dict:
    """One wrk run of a scenario; its rates, CPU shares and WAL figures."""
    name, script, key, wrk_args, per_request, listeners = scenario
    command = wrk_command(
        server.base_url, str(script), wrk_args, key=key, duration=args.duration,
        connections=args.connections, threads=2,
    )  # fmt: skip
    [before] = query(url, STATS_SQL)
    server_cpu, wrk_cpu = cpu_seconds(server.process.pid), children_cpu()
    pg_cpu = cpu_seconds(postmaster) if postmaster else 0.0
    busy = machine_busy()
    with Listeners(url, listeners):
        done = subprocess.run(command, capture_output=True, text=True)
    busy = [a - b for a, b in zip(machine_busy(), busy, strict=True)]
    server_cpu = cpu_seconds(server.process.pid) - server_cpu
    pg_cpu = cpu_seconds(postmaster) - pg_cpu if postmaster else None
    wrk_cpu = children_cpu() - wrk_cpu
    stats = wrk_result(done.stdout, done.stderr)
    [after] = query(url, STATS_SQL)
    requests, seconds = stats["requests"], stats["duration_s"]
    wal, fpi, syncs, commits, stored = (a - b for a, b in zip(after, before, strict=True))
    events = stored if per_request else 0
    return {
        "name": name,
        "statuses": stats["statuses"],
        "req_s": requests / seconds,
        "events_s": events / seconds,
        "p50": stats["latency_ms"]["p50"],
        "p99": stats["latency_ms"]["p99"],
        "server_us": server_cpu * 1e6 / requests,
        "pg_us": None if pg_cpu is None else pg_cpu * 1e6 / requests,
        "wrk_us": wrk_cpu * 1e6 / requests,
        "busy": busy[0] / busy[1],
        "wal_event": wal / events if events else None,
        "wal_s": wal / seconds,
        "fpi_s": fpi / seconds,
        "syncs_s": syncs / seconds,
        "commits_s": commits / seconds,
    }


def scenarios(lua: Path, targets: list[str], misses: list[str], hits: list[str]) -> list:
    """(name, wrk script, key, its arguments, whether it appends, listeners added)."""
    get = WRK_DIR / "get.lua"
    return [
        ("append-1", lua, WRITE_KEY, ["1", "-", *targets], True, 0),
        (f"append-1, {LISTENERS} more listeners", lua, WRITE_KEY, ["1", "-", *targets], True,
         LISTENERS),
        ("append-1, client ids", lua, WRITE_KEY, ["1", "ids", *targets], True, 0),
        ("append-100", lua, WRITE_KEY, ["100", "-", *targets], True, 0),
        ("append-100, client ids", lua, WRITE_KEY, ["100", "ids", *targets], True, 0),
        ("poll-miss (200)", get, READ_KEY, misses, False, 0),
        ("poll-hit (304)", get, READ_KEY, hits, False, 0),
    ]  # fmt: skip


def measure(server: LiveServer, url: str, postmaster: int | None, scenario: tuple, args):
    """A warm-up of 2 s, then the rounds: the table's row of their medians."""
    run(server, url, postmaster, scenario, argparse.Namespace(**{**vars(args), "duration": 2}))
    runs = []
    for index in range(args.rounds):
        runs.append(result := run(server, url, postmaster, scenario, args))
        print(
            f"  {scenario[0]} round {index + 1}: {result['req_s']:,.0f} req/s, "
            f"{result['events_s']:,.0f} events/s, statuses {result['statuses']}, "
            f"machine {result['busy']:.0%} busy",
            flush=True,
        )
    return median_row(runs)


def median_row(runs: list[dict]) -> list[str]:
    def m(key: str):
        values = [r[key] for r in runs if r[key] is not None]
        return statistics.median(values) if values else None

    def f(value, form: str) -> str:
        return "n/a" if value is None else format(value, form)

    rates = " ".join(f"{r['req_s']:,.0f}" for r in runs)
    return [
        runs[0]["name"], f(m("req_s"), ",.0f"), rates, f(m("events_s"), ",.0f"),
        f(m("p50"), ".1f"), f(m("p99"), ".1f"), f(m("server_us"), ",.0f"), f(m("pg_us"), ",.0f"),
        f(m("wrk_us"), ",.0f"), f(m("busy") * 100, ".0f"), f(m("wal_event"), ",.0f"),
        f(m("wal_s") / 2**20, ".1f"), f(m("fpi_s"), ",.0f"), f(m("syncs_s"), ",.0f"),
        f(m("commits_s"), ",.0f"),
    ]  # fmt: skip


def connections(url: str, database: str, server: LiveServer, workers: int) -> list[str]:
    [[max_connections, reserved, shared_buffers, work_mem]] = query(
        url,
        "SELECT current_setting('max_connections')::int, "
        "current_setting('superuser_reserved_connections')::int, "
        "current_setting('shared_buffers'), current_setting('work_mem')",
    )
    backends = backend_memory(url, database)
    private = statistics.median(b[2] for b in backends) if backends else 0
    pss = statistics.median(b[1] for b in backends) if backends else 0
    per_process = len(backends) / workers if workers else 0
    usable = max_connections - reserved
    lines = [
        f"max_connections {max_connections} ({reserved} reserved), shared_buffers {shared_buffers},"
        f" work_mem {work_mem}",
        f"backends of the service: {len(backends)} for {workers} worker(s) = "
        f"{per_process:.0f} per server process (pool + LISTEN)",
        f"per backend after the load: private {private / 1024:.1f} MiB, Pss {pss / 1024:.1f} MiB "
        "(median)",
        f"server processes at this pool: {usable // max(per_process, 1):.0f} on {max_connections}"
        f" connections, {(100 - 3) // max(per_process, 1):.0f} on PostgreSQL's default 100",
        f"server RSS: {rss_mb(server.process.pid):.0f} MB for {workers} worker(s) and the parent",
    ]
    return lines


def retention(server: LiveServer, url: str, targets: list[str]) -> list[str]:
    """Retention by DELETE (`session-events prune`) of the appended sessions, finished, against
    dropping a table of as many rows (what dropping a partition costs)."""
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": WRITE_KEY}) as http:
        for sid in targets:
            http.patch(f"/api/v2/sessions/{sid}", json={"status": "completed"}).raise_for_status()
    # The same rows and indexes in a table of their own, dropped as a partition would be.
    query(url, "CREATE TABLE dropped (LIKE events INCLUDING INDEXES)")
    query(url, "INSERT INTO dropped SELECT * FROM events WHERE event_type <> 'tick'")
    query(url, "CHECKPOINT")
    [[position, size]] = query(url, f"SELECT {WAL_SQL}, pg_total_relation_size('dropped')")
    started = time.monotonic()
    query(url, "DROP TABLE dropped")
    dropped = time.monotonic() - started
    [[dropped_wal]] = query(url, f"SELECT {WAL_SQL} - {position}")
    time.sleep(1.1)
    [before] = query(url, STATS_SQL)
    [[full]] = query(url, "SELECT pg_total_relation_size('events')")
    started = time.monotonic()
    command = [sys.executable, "-m", "session_events.cli", "prune", "--older-than", "1s"]
    subprocess.run(command, env=server.env, check=True, capture_output=True, timeout=3600)
    seconds = time.monotonic() - started
    [after] = query(url, STATS_SQL)
    wal, deleted = after[0] - before[0], before[4] - after[4]
    [[left]] = query(url, "SELECT pg_total_relation_size('events')")
    return [
        f"prune (DELETE) of {len(targets)} sessions, {deleted:,} events: {seconds:.1f} s, "
        f"{deleted / seconds:,.0f} events/s, {wal / max(deleted, 1):,.0f} WAL bytes per event",
        f"events with its indexes: {full / 2**20:,.0f} MiB before the DELETE, "
        f"{left / 2**20:,.0f} MiB after (vacuum makes the "
        "space reusable; only VACUUM FULL returns it)",
        f"DROP TABLE of the same rows and indexes ({size / 2**20:,.0f} MiB): "
        f"{dropped * 1000:.0f} ms, {dropped_wal:,} WAL bytes in all",
    ]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="perf.primary_limits", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--sessions", type=int, default=64, help="sessions appended to")
    parser.add_argument("--durability", choices=("durable", "throwaway"), default="durable")
    parser.add_argument("--log-level", default="warning", help="EVENTS_LOG_LEVEL of the server")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    facts = announced_facts()
    work = Path(tempfile.mkdtemp(prefix="perf-primary-limits-"))
    pg, server = None, None
    url = os.environ.get("EVENTS_DATABASE_URL", "")
    try:
        if not url.startswith("postgresql"):
            pg = (DurablePostgres if args.durability == "durable" else PostgresServer)().start()
            url = pg.create_database("primary_limits")
        database = url.rsplit("/", 1)[1].split("?")[0]
        server = LiveServer(url, work / "server.log", EVENTS_LOG_LEVEL=args.log_level)
        server.start("--workers", str(args.workers))
        postmaster = postmaster_pid(url)
        [[settings]] = query(
            url, "SELECT format('%s; fsync %s, synchronous_commit %s, full_page_writes %s', "
            "version(), current_setting('fsync'), current_setting('synchronous_commit'), "
            "current_setting('full_page_writes'))",
        )  # fmt: skip
        print(settings, flush=True)
        load = prepare(server.base_url, args.sessions)
        lua = WRK_DIR / "append_sized.lua"
        rows = [measure(server, url, postmaster, one, args) for one in scenarios(lua, *load)]
        [[size, stored]] = query(
            url, "SELECT pg_total_relation_size('events'), count(*) FROM events"
        )
        memory = connections(url, database, server, args.workers)
        memory += retention(server, url, load[0])
        server.stop()
        if pg:
            memory.append(
                f"the disk's fsync rate (pg_test_fsync, one 8 kB write): {fsync_rate(pg)}"
            )
    finally:
        if server:
            server.stop()
        if pg:
            pg.stop()
    header = [
        "scenario", "req/s", "rounds req/s", "events/s", "p50 ms", "p99 ms", "server CPU us/req",
        "PostgreSQL CPU us/req", "wrk CPU us/req", "machine busy %", "WAL B/event", "WAL MiB/s",
        "FPI/s", "WAL syncs/s", "xacts/s",
    ]  # fmt: skip
    print(
        f"\n{facts['date']}, {facts['nproc']} CPUs ({facts['cpu']}); serve --workers "
        f"{args.workers} (pool {os.environ.get('EVENTS_DB_POOL_SIZE', '10')}), wrk -t2 "
        f"-c{args.connections}, {args.sessions} sessions appended to, median of {args.rounds} "
        f"rounds of {args.duration} s; everything shares the CPUs; load average before "
        f"{facts['load average']}, after {load_average()}"
    )
    print(settings)
    print_both([header, *rows])
    print(
        f"\nevents table with its indexes: {size / stored:,.0f} bytes per event ({stored:,} events)"
    )
    print("\n".join(memory))
    print(f"\nServer log: {work}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
