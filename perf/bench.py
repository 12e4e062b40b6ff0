"""The benchmark of issue 6: one server process, each scenario driven by wrk, one table.

    perf/bench [--duration 10] [--connections 50] [--threads 2] [--workers N] [--no-huge]
               [--paced-rate 1200] [--soak MINUTES]
               [--database-url postgresql://... [--reuse | --reset]]

How the measurement is done:
- A throwaway PostgreSQL (tests/pg_server.py: fsync and synchronous_commit off, as a test
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
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from perf.generate import generate
from tests.pg_server import PostgresServer
from tests.servers import READ_KEY, WRITE_KEY, LiveServer

ROOT = Path(__file__).resolve().parent.parent
WRK_DIR = ROOT / "perf" / "wrk"
API = "/api/v2/sessions"


# ---------------------------------------------------------------------------- the machine


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_facts() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "wrk": _first_line([_wrk(), "--version"]).split(" Copyright")[0],
        "load average": load_average(),
    }


def _first_line(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    return (result.stdout or result.stderr).splitlines()[0].strip()


def _wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    return found


def _family(pid: int) -> list[int]:
    """The process and its descendants (worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    family, todo = [], [pid]
    while todo:
        current = todo.pop()
        family.append(current)
        todo += children.get(current, [])
    return family


def rss_mb(pid: int) -> float:
    """VmRSS of the process and its descendants (worker processes), in MB."""
    total = 0
    for member in _family(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process and its descendants have used so far."""
    ticks = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- wrk


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
        return sum(self.stats["errors"].values())

    def p(self, name: str) -> float:
        return self.stats["latency_ms"][name]


def run_wrk(
    base_url: str,
    script: str,
    args: list[str],
    *,
    key: str,
    duration: float,
    connections: int,
    threads: int,
    env: dict[str, str] | None = None,
) -> dict:
    command = [
        _wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-H",
        f"X-API-Key: {key}",
        "-s",
        str(WRK_DIR / script),
        base_url,
        "--",
        *args,
    ]
    environment = {**os.environ, **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    for line in result.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON ") :])
    raise RuntimeError(f"wrk printed no result: {result.stdout}\n{result.stderr}")


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


def _events(session_id: str, query: str) -> str:
    return f"{API}/{session_id}/events?{query}"


def poll_paths(sessions: list[dict]) -> list[str]:
    # + in an offset must be %2B; the manifest's stamps end in Z, so nothing to escape.
    return [_events(s["id"], f"since={s['poll_since']}&per_page=50") for s in sessions]


def unchanged_paths(base_url: str, sessions: list[dict]) -> list[str]:
    """The caught-up cursor poll of each session, with the ETag its first GET returned."""
    paths = []
    with httpx.Client(base_url=base_url, headers={"X-API-Key": READ_KEY}, timeout=30) as http:
        for s in sessions:
            path = _events(s["id"], f"after_seq={s['latest_seq']}&order=asc&per_page=100")
            response = http.get(path)
            response.raise_for_status()
            paths.append(f"{path} {response.headers['etag']}")
    return paths


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
            [_events(s["id"], query) for s in sessions],
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


def combine(runs: list[dict]) -> dict:
    """Several wrk runs of one scenario as one: rates from the totals, latencies averaged."""
    requests, duration = sum(r["requests"] for r in runs), sum(r["duration_s"] for r in runs)
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "requests": requests,
        "duration_s": duration,
        "req_per_s": requests / duration,
        "latency_ms": {
            k: sum(r["latency_ms"][k] for r in runs) / len(runs) for k in runs[0]["latency_ms"]
        },
        "errors": {k: sum(r["errors"][k] for r in runs) for k in runs[0]["errors"]},
        "statuses": statuses,
    }


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


# ---------------------------------------------------------------------------- soak


def soak(args, manifest: dict, server: LiveServer) -> list[tuple[float, float]]:
    """Mixed load for args.soak minutes, one wrk per kind of client, RSS every 30 s."""
    seconds = int(args.soak * 60)
    ten_k = manifest["sessions_10k"]
    ids = [s["id"] for s in ten_k]
    loads = [  # name, script, arguments, key, connections
        ("poll", "get.lua", poll_paths(ten_k), READ_KEY, 20),
        ("unchanged poll", "get.lua", unchanged_paths(server.base_url, ten_k), READ_KEY, 10),
        ("initial", "get.lua", [_events(i, "per_page=100") for i in ids], READ_KEY, 5),
        ("troubleshoot", "get.lua",
         [_events(i, "event_type=workflow_error&per_page=20") for i in ids], READ_KEY, 5),
        ("append", "append.lua", manifest["append_sessions"], WRITE_KEY, 5),
    ]  # fmt: skip
    processes = [
        subprocess.Popen(
            [
                _wrk(),
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-H",
                f"X-API-Key: {key}",
                "-s",
                str(WRK_DIR / script),
                server.base_url,
                "--",
                *paths,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _name, script, paths, key, connections in loads
    ]
    samples = [(0.0, rss_mb(server.process.pid))]
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(max(0.0, min(30.0, seconds - (time.monotonic() - started))))
        samples.append((time.monotonic() - started, rss_mb(server.process.pid)))
        print(f"  {samples[-1][0] / 60:5.1f} min  RSS {samples[-1][1]:6.1f} MB", flush=True)
    for process, (name, *_rest) in zip(processes, loads, strict=True):
        out, _ = process.communicate()
        for line in out.splitlines():
            if line.startswith("WRK_JSON "):
                stats = json.loads(line[9:])
                print(
                    f"  {name}: {stats['req_per_s']:.0f} req/s, errors "
                    f"{sum(stats['errors'].values())}, statuses {stats['statuses']}"
                )
    return samples


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


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def print_markdown(rows: list[list[str]]) -> None:
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


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
    _wrk()
    facts = machine_facts()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
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
            samples = soak(args, manifest, servers[0])
            by_minute = {round(t / 60, 1): mb for t, mb in samples}
            print(
                "RSS series (min: MB): "
                + ", ".join(f"{m}: {mb:.1f}" for m, mb in by_minute.items())
            )
            near = lambda minute: min(samples, key=lambda s: abs(s[0] - minute * 60))[1]  # noqa: E731
            print(
                f"Minute 1: {near(1):.1f} MB, minute {args.soak:g}: {near(args.soak):.1f} MB "
                f"(target <= 150 MB, flat)"
            )
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
        for server in servers:
            server.stop()
        if pg:
            pg.stop()
        print(f"\nServer logs: {logs}")


if __name__ == "__main__":
    main()
