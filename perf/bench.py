"""The benchmark of issue 6: one server process, each scenario driven by wrk, one table.

    perf/bench [--duration 10] [--connections 50] [--threads 2] [--workers N] [--no-huge]
               [--paced-rate 1200] [--soak MINUTES]
               [--database-url postgresql://... [--reuse | --reset]]

How the measurement is done:
- A throwaway PostgreSQL (support/pg_server.py: fsync and synchronous_commit off, as a test
  server) unless --database-url names one; the data set of perf/generate.py (the standard
  290,000 events, plus the 1,000,000-event session unless --no-huge), then VACUUM ANALYZE.
- ONE `session-events serve` process (plus --workers N when given; passed through to serve),
  keys from EVENTS_READ_KEYS/EVENTS_WRITE_KEYS, logging at --log-level (default info: the
  production setting, one JSON line per request to a file), response validation on (the
  default), everything else at its default (EVENTS_* variables of the environment apply).
- wrk (Debian package: `apt-get install wrk`) on the same 2-CPU machine, pinned to --threads
  (default 2) so the load tool competes less with the server; 50 connections; each scenario
  runs --duration seconds after a 3 s warm-up of the server. wrk is a closed loop: a slow server
  gets fewer requests (latencies understate what an open-loop fleet would see at the same rate).
  The Lua scripts in perf/wrk/ set the headers, If-None-Match and POST bodies, count statuses,
  and print the latency percentiles and errors as JSON.
- errors = responses outside 2xx/3xx plus socket errors (connect, read, write, timeout > 10 s).
  The statuses column shows what came back (the unchanged poll must be all 304).
- RSS = VmRSS of the server process (and its children) read from /proc after each scenario.
- poll, paced: the poll scenario with requests offered at --paced-rate a second (default
  1,200, the poll target) on a fixed schedule (perf/wrk/paced.lua) instead of as fast as the
  server answers: its latencies are the service's at that rate. At saturation wrk's latency is
  mostly queueing (50 connections / throughput), which no p95 target can mean.
- validation: the poll scenario again against a second server with EVENTS_VALIDATE_RESPONSES=false,
  alternating on, off, on, off, ... (4 runs each of half the scenario time); the notes give each
  server's CPU time per request too (user + system, from /proc).
- --soak MINUTES: instead of the scenarios, mixed load (poll, unchanged poll, initial load,
  troubleshoot, appends at once, one wrk each) for MINUTES, RSS sampled every 30 s.

The table is printed twice: aligned for the terminal, and as markdown for perf/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from perf.generate import generate
from perf.load import combine, error_count, run_wrk, wrk_binary
from perf.machine import announced_facts, load_average
from perf.paths import events_path, poll_paths, unchanged_paths
from perf.soak import print_soak, soak
from perf.tables import print_markdown, print_table
from support.live_server import READ_KEY, WRITE_KEY, LiveServer, stop_all
from support.pg_server import PostgresServer
from support.processes import cpu_seconds, rss_mb

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- results


@dataclass
class Result:
    scenario: str
    request: str
    stats: dict
    rss: float
    per_request: int = 1  # events per request (append)
    target: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.stats["req_per_s"]

    @property
    def errors(self) -> int:
        return error_count(self.stats)

    def p(self, name: str) -> float:
        return self.stats["latency_ms"][name]


class Bench:
    def __init__(self, args, manifest: dict, server: LiveServer):
        self.args = args
        self.manifest = manifest
        self.server = server
        self.results: list[Result] = []

    def wrk(
        self, script: str, args: list[str], key: str = READ_KEY, duration=None, env=None
    ) -> dict:
        return run_wrk(
            self.server.base_url,
            script,
            args,
            key=key,
            duration=duration or self.args.duration,
            connections=self.args.connections,
            threads=self.args.threads,
            env=env,
        )

    def scenario(
        self,
        name: str,
        request: str,
        paths: list[str],
        *,
        script="get.lua",
        key=READ_KEY,
        per_request=1,
        target="",
        env=None,
    ) -> Result:
        stats = self.wrk(script, paths, key=key, env=env)
        result = Result(name, request, stats, rss_mb(self.server.process.pid), per_request, target)
        self.results.append(result)
        print(
            f"  {name}: {_rate(result)}, p50 {result.p('p50'):.1f} ms, "
            f"p95 {result.p('p95'):.1f} ms, errors {result.errors}, "
            f"RSS {result.rss:.0f} MB, statuses {result.stats['statuses']}",
            flush=True,
        )
        return result

    def warm_up(self) -> None:
        self.wrk("get.lua", poll_paths(self.manifest["sessions_10k"]), duration=3)


# ---------------------------------------------------------------------------- the scenarios


def read_scenarios(bench: Bench, label: str, sessions: list[dict], targets: dict) -> None:
    bench.scenario(
        f"poll{label}",
        "since=<10th newest>&per_page=50",
        poll_paths(sessions),
        target=targets.get("poll", ""),
    )
    for name, target, query in (
        ("initial", "initial", "per_page=100"),
        ("troubleshoot", "troubleshoot", "event_type=workflow_error&per_page=20"),
        ("deep page", "deep", "page=50&per_page=100"),
    ):
        bench.scenario(
            f"{name}{label}",
            query,
            [events_path(s["id"], query) for s in sessions],
            target=targets.get(target, ""),
        )


TARGETS_10K = {
    "poll": ">= 1,200 req/s, p95 <= 30 ms",
    "initial": ">= 500 req/s",
    "troubleshoot": ">= 600 req/s",
    "deep": ">= 500 req/s",
}
HUGE_TARGET = "p50 within 1.5x of the 10k session's"


def run_scenarios(bench: Bench) -> dict:
    manifest, base_url = bench.manifest, bench.server.base_url
    ten_k = manifest["sessions_10k"]
    read_scenarios(bench, "", ten_k, TARGETS_10K)
    bench.scenario(
        "unchanged poll",
        "after_seq=<latest>&order=asc&per_page=100 + If-None-Match -> 304",
        unchanged_paths(base_url, ten_k),
        target=">= 2,000 req/s",
    )
    paced_poll(bench)
    ratios = {}
    if manifest.get("huge"):
        huge = [manifest["huge"]]
        read_scenarios(bench, " (1M)", huge, dict.fromkeys(TARGETS_10K, HUGE_TARGET))
        by_name = {r.scenario: r for r in bench.results}
        for name in ("poll", "initial", "troubleshoot", "deep page"):
            ratio = by_name[f"{name} (1M)"].p("p50") / max(by_name[name].p("p50"), 0.001)
            ratios[name] = ratio
            by_name[f"{name} (1M)"].notes.append(f"p50 {ratio:.2f}x the 10k session's")
    bench.scenario(
        "append",
        "POST 10 events, 20 sessions",
        manifest["append_sessions"],
        script="append.lua",
        key=WRITE_KEY,
        per_request=10,
        target=">= 5,000 events/s",
    )
    return ratios


def paced_poll(bench: Bench) -> Result:
    """The poll scenario at --paced-rate requests a second offered (perf/wrk/paced.lua), as a
    fleet of pollers sends them, instead of as fast as the server answers: the latency of the
    service at that rate. Saturated, wrk's latency is mostly the queue of 50 connections."""
    rate = bench.args.paced_rate
    result = bench.scenario(
        "poll, paced",
        f"as poll, {rate:,} req/s offered",
        poll_paths(bench.manifest["sessions_10k"]),
        script="paced.lua",
        target="p95 <= 30 ms at 1,200 req/s",
        env={"PACED_PERIOD_MS": f"{bench.args.threads * 1000 / rate:.4f}"},
    )
    if result.rate < 0.97 * rate:
        result.notes.append(f"fell behind: {result.rate:,.0f} of {rate:,} req/s sent")
    return result


def _rate(result: Result) -> str:
    if result.per_request > 1:
        return f"{result.rate:,.0f} req/s ({result.rate * result.per_request:,.0f} events/s)"
    return f"{result.rate:,.0f} req/s"


def validation_cost(bench: Bench, unvalidated: LiveServer, rounds: int = 4) -> float:
    """The poll scenario against the server (validation on) and a second one with validation
    off, alternating on, off, on, off ... in runs of half the scenario time each, so that a
    machine busy with something else penalises both alike. Returns on/off of the req/s; the
    servers' CPU time per request goes into the notes (less moved by other load than req/s)."""
    paths = poll_paths(bench.manifest["sessions_10k"])
    servers = {"on": bench.server, "off": unvalidated}
    run_wrk(
        unvalidated.base_url,
        "get.lua",
        paths,
        key=READ_KEY,
        duration=3,
        connections=bench.args.connections,
        threads=bench.args.threads,
    )
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    cpu = {"on": 0.0, "off": 0.0}
    for _ in range(rounds):
        for mode, server in servers.items():
            before = cpu_seconds(server.process.pid)
            runs[mode].append(
                run_wrk(
                    server.base_url,
                    "get.lua",
                    paths,
                    key=READ_KEY,
                    duration=max(1, round(bench.args.duration / 2)),
                    connections=bench.args.connections,
                    threads=bench.args.threads,
                )
            )
            cpu[mode] += cpu_seconds(server.process.pid) - before
    per_request = {
        mode: cpu[mode] * 1e6 / max(sum(run["requests"] for run in runs[mode]), 1)
        for mode in servers
    }
    results = {}
    for mode, server in servers.items():
        results[mode] = Result(
            f"poll, validation {mode}",
            "as poll" + ("" if mode == "on" else ", EVENTS_VALIDATE_RESPONSES=false"),
            combine(runs[mode]),
            rss_mb(server.process.pid),
            target="validation on >= 0.9x off",
            notes=[f"{rounds} runs, alternating on/off", f"{per_request[mode]:.0f} us CPU/req"],
        )
        bench.results.append(results[mode])
    ratio = results["on"].rate / max(results["off"].rate, 0.001)
    cpu_ratio = per_request["off"] / max(per_request["on"], 0.001)
    results["off"].notes.append(f"on/off {ratio:.2f} (CPU/req off/on {cpu_ratio:.2f})")
    return ratio


# ---------------------------------------------------------------------------- output


def table(results: list[Result]) -> list[list[str]]:
    rows = [
        [
            "scenario",
            "request",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "RSS MB",
            "statuses",
            "target",
            "notes",
        ]
    ]
    for r in results:
        rate = f"{r.rate:,.0f}"
        if r.per_request > 1:
            rate += f" ({r.rate * r.per_request:,.0f} ev/s)"
        statuses = " ".join(f"{k}x{v}" for k, v in sorted(r.stats["statuses"].items()))
        rows.append(
            [
                r.scenario,
                r.request,
                rate,
                f"{r.p('p50'):.1f}",
                f"{r.p('p95'):.1f}",
                f"{r.p('p99'):.1f}",
                str(r.errors),
                f"{r.rss:.0f}",
                statuses,
                r.target,
                "; ".join(r.notes),
            ]
        )
    return rows


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="perf/bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, help="passed to `session-events serve --workers`")
    parser.add_argument("--no-huge", action="store_true", help="skip the 1M-event session")
    parser.add_argument(
        "--paced-rate", type=int, default=1200, help="offered req/s of the paced poll scenario"
    )
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="mixed load, RSS series")
    parser.add_argument("--log-level", default="info", help="EVENTS_LOG_LEVEL of the server")
    parser.add_argument("--database-url", help="an existing PostgreSQL (default: a throwaway)")
    parser.add_argument("--reuse", action="store_true", help="keep its data, read --manifest")
    parser.add_argument("--reset", action="store_true", help="empty it and generate again")
    parser.add_argument("--manifest", type=Path, default=ROOT / ".data" / "perf-manifest.json")
    return parser.parse_args(argv)


def start_server(args, url: str, logs: Path, name: str, **env: str) -> LiveServer:
    server = LiveServer(url, logs / f"{name}.log", EVENTS_LOG_LEVEL=args.log_level, **env)
    server.start(*(["--workers", str(args.workers)] if args.workers else []))
    return server


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_binary()
    facts = announced_facts()
    logs = Path(tempfile.mkdtemp(prefix="perf-bench-"))
    pg = None
    servers: list[LiveServer] = []
    try:
        url = args.database_url
        if not url:
            pg = PostgresServer().start()
            url = pg.create_database("perf")
        if args.reuse:
            manifest = json.loads(args.manifest.read_text())
            if args.no_huge:
                manifest["huge"] = None
        else:
            print("Generating the data set ...", flush=True)
            manifest = asyncio.run(
                generate(
                    url,
                    huge=not args.no_huge,
                    reset=args.reset,
                    seed=20260113,
                    manifest_path=args.manifest,
                )
            )
            print(
                f"  {manifest['events']:,} events in {manifest['total_s']} s "
                f"({manifest['timings_s']})",
                flush=True,
            )
        servers.append(start_server(args, url, logs, "server"))
        bench = Bench(args, manifest, servers[0])
        bench.warm_up()
        if args.soak:
            print(f"Soak: mixed load for {args.soak} min, RSS every 30 s", flush=True)
            print_soak(args.soak, soak(args.soak, manifest, servers[0]))
            return
        print(
            f"Scenarios, {args.duration:g} s each, {args.connections} connections, "
            f"wrk -t{args.threads}:",
            flush=True,
        )
        ratios = run_scenarios(bench)
        servers.append(
            start_server(args, url, logs, "server-novalidate", EVENTS_VALIDATE_RESPONSES="false")
        )
        on_off = validation_cost(bench, servers[1])
        rows = table(bench.results)
        print()
        print(
            f"{facts['date']}, {facts['nproc']} CPUs ({facts['cpu']}), {facts['memory']}; "
            f"{args.duration:g} s per scenario, {args.connections} connections, "
            f"wrk -t{args.threads}, {args.workers or 1} server process(es), "
            f"log level {args.log_level}; load average before {facts['load average']}, "
            f"after {load_average()}"
        )
        print_table(rows)
        if ratios:
            print("huge/10k p50: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
        print(f"validation on/off (poll req/s): {on_off:.2f}")
        print("\nMarkdown:\n")
        print_markdown(rows)
    finally:
        stop_all(servers, pg)
        print(f"\nServer logs: {logs}")


if __name__ == "__main__":
    main()
