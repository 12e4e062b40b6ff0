"""What prometheus_client's multiprocess mode (`serve --workers N`) costs on the request path:
values kept in mmap'd files against values in memory, in one alternating run.

Two parts. `observe`: Metrics.observe (a histogram and a counter, once per request), its CPU time
per call (which a busy machine's preemption leaves out), in a fresh process per round
alternating memory, files, files, memory, ... (the mode is chosen when prometheus_client is
imported, so each round is a process of its own). `server`: two one-process `session-events
serve` on one throwaway PostgreSQL, alike but for PROMETHEUS_MULTIPROC_DIR (the files one's
counters and histograms then live in the files, as a worker's do), both pinned to CPU 0 and wrk
to CPU 1 as in perf/compare, alternating wrk runs of the poll (`per_page=20`, 200) and the
unchanged poll (304). Printed: per round and of the medians, files/memory.

    .venv/bin/python -m perf.metrics_cost [--rounds 6] [--calls 200000] [--duration 5]
                                          [--warm-up 2] [--events 200] [--connections 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from perf.load import add_round_arguments, wrk_binary, wrk_command, wrk_result
from perf.machine import announced_facts, load_average
from perf.paths import events_path
from perf.tables import print_both
from perf.token_cost import prepare
from support.live_server import READ_KEY, LiveServer, stop_all
from support.pg_server import PostgresServer
from support.processes import cpu_seconds

SERVER_CPU, WRK_CPU = "0", "1"
MODES = ("memory", "files")
ROOT = Path(__file__).resolve().parents[1]

# One round of `observe`: CPU ns per call, over label sets as varied as a server's few routes.
OBSERVE = """
import sys, time
from session_events.observability import Metrics
metrics = Metrics(sys.argv[2] or None)
calls = int(sys.argv[1])
routes = [("GET", f"/api/v2/route{n}", 200) for n in range(8)]
for route in routes:
    metrics.observe(*route, 0.003)
started = time.process_time_ns()  # CPU time: a busy machine preempts
for n in range(calls):
    metrics.observe(*routes[n % 8], 0.003)
print((time.process_time_ns() - started) / calls)
"""


def observe_round(mode: str, calls: int, directory: str) -> float:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if mode == "files":
        env["PROMETHEUS_MULTIPROC_DIR"] = directory
    argv = [sys.executable, "-c", OBSERVE, str(calls), directory if mode == "files" else ""]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout)


def measure_observe(args, work: Path) -> list[str]:
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    for index in range(args.rounds):
        for mode in MODES if index % 2 == 0 else reversed(MODES):
            directory = tempfile.mkdtemp(dir=work)  # each process's files start empty
            results[mode].append(observe_round(mode, args.calls, directory))
        last = {mode: round(results[mode][-1]) for mode in MODES}
        print(f"  observe round {index + 1}: ns/call {json.dumps(last)}", flush=True)
    return row("Metrics.observe (ns/call)", results, lambda v: f"{v:,.0f}")


def wrk_run(server: LiveServer, target: str, duration: int, args) -> dict:
    command = wrk_command(
        server.base_url, "get.lua", [target], key=READ_KEY, duration=duration,
        connections=args.connections, threads=args.threads,
    )  # fmt: skip
    before = cpu_seconds(server.process.pid)
    done = subprocess.run(["taskset", "-c", WRK_CPU, *command], capture_output=True, text=True)
    stats = wrk_result(done.stdout, done.stderr)
    stats["cpu_us"] = (cpu_seconds(server.process.pid) - before) * 1e6 / stats["requests"]
    return stats


def measure_server(servers: dict[str, LiveServer], args) -> list[list[str]]:
    path, etag, _ = prepare(servers["memory"], args.events)  # one database: both see it
    rows = []
    scenarios = (("poll", path, "200"), ("unchanged", f"{path} {etag}", "304"))
    for scenario, target, expected in scenarios:
        for mode in MODES:
            wrk_run(servers[mode], target, args.warm_up, args)
        rates: dict[str, list[float]] = {mode: [] for mode in MODES}
        cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        for index in range(args.rounds):
            for mode in MODES if index % 2 == 0 else reversed(MODES):
                stats = wrk_run(servers[mode], target, args.duration, args)
                if set(stats["statuses"]) != {expected}:
                    sys.exit(f"{scenario} ({mode}): statuses {stats['statuses']}")
                rates[mode].append(stats["req_per_s"])
                cpu[mode].append(stats["cpu_us"])
            last = {mode: round(rates[mode][-1]) for mode in MODES}
            print(f"  {scenario} round {index + 1}: req/s {json.dumps(last)}", flush=True)
        rows.append(row(f"{scenario} ({expected}) req/s", rates, lambda v: f"{v:,.0f}"))
        rows.append(row(f"{scenario} ({expected}) CPU us/req", cpu, lambda v: f"{v:.0f}"))
    return rows


def row(what: str, results: dict[str, list[float]], shown) -> list[str]:
    median = {mode: statistics.median(results[mode]) for mode in MODES}
    rounds = zip(results["memory"], results["files"], strict=True)
    return [
        what, shown(median["memory"]), shown(median["files"]),
        f"{median['files'] / median['memory']:.3f}",
        " ".join(f"{files / memory:.2f}" for memory, files in rounds),
    ]  # fmt: skip


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="perf.metrics_cost", description=__doc__.split("\n\n")[0])
    add_round_arguments(parser, per="mode")
    parser.add_argument("--calls", type=int, default=200_000, help="observe calls per round")
    parser.add_argument("--events", type=int, default=200, help="events in the polled session")
    parser.add_argument("--skip-server", action="store_true", help="only the observe part")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_binary()  # fails early when wrk is missing
    facts = announced_facts()
    work = Path(tempfile.mkdtemp(prefix="perf-metrics-cost-"))
    rows = [measure_observe(args, work)]
    pg, servers = None, {}
    if not args.skip_server:
        try:
            pg = PostgresServer().start()
            url = pg.create_database("metrics_cost")
            for mode in MODES:
                env = {"EVENTS_LOG_LEVEL": "warning"}
                if mode == "files":
                    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=work)
                command = ("taskset", "-c", SERVER_CPU, sys.executable, "-m", "session_events.cli")
                server = LiveServer(url, work / f"server-{mode}.log", command=command, **env)
                if mode == "memory":
                    server.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
                servers[mode] = server.start()
            rows += measure_server(servers, args)
        finally:
            stop_all(list(servers.values()), pg)
    shutil.rmtree(work, ignore_errors=True)
    header = ["measure", "memory", "files (multiprocess)", "files/memory", "rounds files/memory"]
    print(
        f"\n{facts['date']}, {facts['nproc']} CPUs ({facts['cpu']}); median of {args.rounds} "
        f"alternating rounds; observe: {args.calls:,} calls per round; server: GET "
        f"{events_path('<id>', 'per_page=20')} of {args.events} events, {args.duration} s per "
        f"run, {args.connections} connections, wrk -t{args.threads} on CPU {WRK_CPU}, server on "
        f"CPU {SERVER_CPU}, log level warning; load average before {facts['load average']}, "
        f"after {load_average()}"
    )
    print_both([header, *rows])


if __name__ == "__main__":
    main()
