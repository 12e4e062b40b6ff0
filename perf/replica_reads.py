"""Polls served by a replica against polls served by the primary, and what sending a position
(Events-Position) costs, in one alternating run (issue 27).

A topology of support/pg_topology.py (a primary, a streaming replica replaying at once, PgBouncer
in transaction mode) and three `session-events serve` on it, each pinned to CPU 0 with wrk on
CPU 1 as in perf/token_cost.py: `primary` reads and writes the primary directly, `pgbouncer`
through PgBouncer (EVENTS_DATABASE_POOLER=transaction), `replica` as `pgbouncer` with the replica
(EVENTS_REPLICA_URLS). One session of `--events` events, replayed by the replica before the
rounds. Rounds alternate the three, and the replica's server with the position of the last
append (one the replica has replayed), in turn reversed: one wrk run each on the poll
(`per_page=20`, 200). Printed: req/s and p50 per round, the ratios of the medians,
and each server's CPU time per request.

    .venv/bin/python -m perf.replica_reads [--rounds 6] [--duration 5] [--events 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from perf.load import WRK_DIR, add_round_arguments, wrk_binary, wrk_result
from perf.machine import announced_facts, load_average
from perf.paths import events_path, seeded_session
from perf.tables import print_both
from support.live_server import READ_KEY, WRITE_KEY, LiveServer, stop_all
from support.pg_topology import Topology
from support.processes import cpu_seconds

SERVER_CPU, WRK_CPU = "0", "1"
QUERY = "per_page=20"
DATABASE = "replica_reads"
VARIANTS = ("primary", "pgbouncer", "replica", "replica+position")


def prepare(server: LiveServer, events: int) -> tuple[str, str]:
    """A session of `events` events; its poll's path and the last append's position."""
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": WRITE_KEY}) as http:
        session_id, appended = seeded_session(http, events)
    return events_path(session_id, QUERY), appended.headers["Events-Position"]


def run(server: LiveServer, path: str, position: str | None, duration: int, args) -> dict:
    headers = ["-H", f"X-API-Key: {READ_KEY}"]
    if position:
        headers += ["-H", f"Events-Position: {position}"]
    command = [
        "taskset", "-c", WRK_CPU, wrk_binary(), f"-t{args.threads}", f"-c{args.connections}",
        f"-d{duration}s", "--timeout", "10s", *headers,
        "-s", str(WRK_DIR / "get.lua"), server.base_url, "--", path,
    ]  # fmt: skip
    before = cpu_seconds(server.process.pid)
    done = subprocess.run(command, capture_output=True, text=True)
    stats = wrk_result(done.stdout, done.stderr)
    stats["cpu_s"] = cpu_seconds(server.process.pid) - before
    if set(stats["statuses"]) != {"200"}:
        sys.exit(f"statuses {stats['statuses']}: {done.stdout[-500:]}")
    return stats


def measure(servers: dict[str, LiveServer], path: str, position: str, args) -> list[str]:
    setups = {
        "primary": (servers["primary"], None),
        "pgbouncer": (servers["pgbouncer"], None),
        "replica": (servers["replica"], None),
        "replica+position": (servers["replica"], position),
    }
    for server, sent in setups.values():
        run(server, path, sent, args.warm_up, args)
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for index in range(args.rounds):
        for variant in VARIANTS if index % 2 == 0 else reversed(VARIANTS):
            server, sent = setups[variant]
            results[variant].append(run(server, path, sent, args.duration, args))
        print(
            f"  round {index + 1}: "
            + ", ".join(
                f"{v} {results[v][-1]['req_per_s']:,.0f} req/s "
                f"p50 {results[v][-1]['latency_ms']['p50']:.1f} ms"
                for v in VARIANTS
            ),
            flush=True,
        )
    median = {v: statistics.median(r["req_per_s"] for r in results[v]) for v in VARIANTS}
    p50 = {v: statistics.median(r["latency_ms"]["p50"] for r in results[v]) for v in VARIANTS}
    cpu_us = {
        v: sum(r["cpu_s"] for r in results[v]) * 1e6 / sum(r["requests"] for r in results[v])
        for v in VARIANTS
    }
    return [
        *(f"{median[v]:,.0f}" for v in VARIANTS),
        f"{median['pgbouncer'] / median['primary']:.2f}",
        f"{median['replica'] / median['primary']:.2f}",
        f"{median['replica+position'] / median['replica']:.2f}",
        *(f"{p50[v]:.1f}" for v in VARIANTS),
        *(f"{cpu_us[v]:.0f}" for v in VARIANTS),
    ]


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="perf.replica_reads", description=__doc__.split("\n")[0])
    add_round_arguments(parser, per="variant")
    parser.add_argument("--events", type=int, default=200, help="events in the session")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    facts = announced_facts()
    work = Path(tempfile.mkdtemp(prefix="perf-replica-reads-"))
    topology = Topology(delay=0).start()
    servers: dict[str, LiveServer] = {}
    try:
        topology.create_database(DATABASE)
        env = topology.env(DATABASE)
        pooled = {k: v for k, v in env.items() if k != "EVENTS_REPLICA_URLS"}
        for name, settings in (("primary", {}), ("pgbouncer", pooled), ("replica", env)):
            servers[name] = LiveServer(
                topology.primary_url(DATABASE), work / f"server-{name}.log",
                command=("taskset", "-c", SERVER_CPU, sys.executable, "-m", "session_events.cli"),
                EVENTS_LOG_LEVEL="warning", **settings,
            ).start()  # fmt: skip
        path, position = prepare(servers["replica"], args.events)
        topology.wait_for_replay()
        row = measure(servers, path, position, args)
    finally:
        stop_all(list(servers.values()), None)
        topology.stop()
    header = [
        *(f"{v} req/s" for v in VARIANTS), "pgbouncer/primary", "replica/primary", "position/none",
        *(f"{v} p50 ms" for v in VARIANTS), *(f"{v} CPU us/req" for v in VARIANTS),
    ]  # fmt: skip
    print(
        f"\n{facts['date']}, {facts['nproc']} CPUs ({facts['cpu']}); GET {QUERY} of one session "
        f"of {args.events} events; median of {args.rounds} rounds of {args.duration} s per "
        f"variant, alternating; {args.connections} connections, wrk -t{args.threads}; server "
        f"on CPU {SERVER_CPU}, wrk on CPU {WRK_CPU}, PostgreSQL unpinned; writes through "
        f"PgBouncer; load average before {facts['load average']}, after {load_average()}"
    )
    print_both([header, row])
    print(f"\nServer logs: {work}")


if __name__ == "__main__":
    main()
