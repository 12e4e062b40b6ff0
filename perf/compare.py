"""Old and new side by side: a baseline commit's server against the working tree's, alternating.

    perf/compare [--baseline 7fb2311] [--new REF] [--rounds 5] [--duration 10] [--warm-up 3]
                 [--connections 50] [--threads 2] [--only poll,unchanged,...]
                 [--shared-venv] [--no-pin] [--load api|generate]
                 [--database-url postgresql://...]

How the comparison is done:
- The baseline is exported with `git archive <ref> | tar -x` into a temporary directory, and its
  `session-events serve` runs from there (`python -m session_events.cli` from that directory
  imports its packages); the working tree's server runs from the working tree. `--new REF`
  serves a second exported commit in place of the working tree. Both once each, kept running
  through every scenario; one process each, response validation on, log level info (one JSON
  line per request), everything else default.
- Each side runs in a venv of its own, built from that tree's own locks (requirements/run.txt),
  or for a tree without locks from its pyproject.toml as pip resolves it the first time; the
  venvs are cached outside the repository (perf/venvs.py: ~/.cache/session-events/perf-venvs).
  The versions that differ between the sides are printed. `--shared-venv` runs both sides with
  this venv instead, which hides a dependency that moved.
- Each server is pinned to CPU 0 with `taskset` and wrk to CPU 1, so that the two never compete
  for a CPU (PostgreSQL is left to the scheduler). `--no-pin` lets them share the CPUs.
- ONE PostgreSQL: a throwaway cluster (support/pg_server.py) unless --database-url names a server,
  where the databases compare_old and compare_new are created (or emptied). `--load generate`
  (the default) fills each side's database with that side's own perf/generate.py (same seed: the
  same 290,000 events of the standard set, COPY then VACUUM ANALYZE); `--load api` stores a set
  of the same plan through that side's running server (perf/api_load.py), as clients would.
- Per scenario: a warm-up of --warm-up seconds on each server, then --rounds rounds of one wrk run
  of --duration seconds per server, in the order old, new, new, old, old, new, ... so a machine
  growing busier or quieter penalises both alike. wrk (perf/load.py, perf/wrk/*.lua) is the one
  load tool, 50 connections, pinned to --threads.
- The table: the median req/s of the rounds of each server, new/old of the medians, new/old of
  each round, and each server's CPU time per request over all its rounds (user + system of the
  process, from /proc), which other load on the machine moves less than req/s; beside it the
  CPU time per request of the PostgreSQL backends connected to that side's database (by their
  process titles), where a statement that costs the database more shows.

Scenarios (the five of issue 15), on the 20 sessions of 10,000 events unless said otherwise:
poll (`after_seq` 10 behind the newest, `order=asc`, `per_page=50`), unchanged (the caught-up
cursor poll with the ETag its first GET returned: all 304), initial (`per_page=100`),
troubleshoot (`event_type=workflow_error&per_page=20`), append (POST 10 events, 20 small live
sessions).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perf import api_load
from perf.load import error_count, run_wrk, wrk_binary
from perf.machine import announced_facts, load_average
from perf.paths import cursor_poll_paths, events_path, unchanged_paths
from perf.tables import print_markdown, print_table
from perf.trees import export_tree, imported_from, tree_label
from perf.venvs import tree_venv, version_differences
from support.live_server import READ_KEY, WRITE_KEY, LiveServer, stop_all
from support.pg_server import PostgresServer, create_databases
from support.processes import backends_cpu_seconds, cpu_seconds, rss_mb

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("old", "new")
SERVER_CPU, WRK_CPU = "0", "1"  # --pin: taskset's CPU lists
TARGET = 0.9  # issue 15: every scenario at least 0.9x the baseline's throughput


def _query(query: str) -> Callable[[dict, LiveServer], list[str]]:
    return lambda manifest, _server: [events_path(s["id"], query) for s in manifest["sessions_10k"]]


@dataclass
class Scenario:
    name: str
    request: str
    paths: Callable[[dict, LiveServer], list[str]]  # from a side's manifest and server
    script: str = "get.lua"
    key: str = READ_KEY
    per_request: int = 1  # events per request (append)
    expected: str = "200"  # the status every response should have


SCENARIOS = [
    Scenario(
        "poll",
        "after_seq=<latest-10>&order=asc&per_page=50",
        lambda manifest, _server: cursor_poll_paths(manifest["sessions_10k"]),
    ),
    Scenario(
        "unchanged",
        "as poll at <latest> + If-None-Match -> 304",
        lambda manifest, server: unchanged_paths(server.base_url, manifest["sessions_10k"], 50),
        expected="304",
    ),
    Scenario("initial", "per_page=100", _query("per_page=100")),
    Scenario(
        "troubleshoot",
        "event_type=workflow_error&per_page=20",
        _query("event_type=workflow_error&per_page=20"),
    ),
    Scenario(
        "append",
        "POST 10 events",
        lambda manifest, _server: manifest["append_sessions"],
        "append.lua",
        WRITE_KEY,
        per_request=10,
        expected="201",
    ),
]


@dataclass
class Side:
    """One server and what its runs measured."""

    name: str
    server: LiveServer
    manifest: dict
    database: str  # the one its server's connections (PostgreSQL backends) are to
    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    database_cpu: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, scenario: str, stats: dict, cpu: tuple[float, float]) -> None:
        self.rates.setdefault(scenario, []).append(stats["req_per_s"])
        self.cpu[scenario] = self.cpu.get(scenario, 0.0) + cpu[0]
        self.database_cpu[scenario] = self.database_cpu.get(scenario, 0.0) + cpu[1]
        self.requests[scenario] = self.requests.get(scenario, 0) + stats["requests"]
        self.errors[scenario] = self.errors.get(scenario, 0) + error_count(stats)
        counts = self.statuses.setdefault(scenario, {})
        for status, count in stats["statuses"].items():
            counts[status] = counts.get(status, 0) + count

    def median(self, scenario: str) -> float:
        return statistics.median(self.rates[scenario])

    def cpu_us(self, scenario: str) -> float:
        return self.cpu[scenario] * 1e6 / max(self.requests[scenario], 1)

    def database_cpu_us(self, scenario: str) -> float:
        return self.database_cpu[scenario] * 1e6 / max(self.requests[scenario], 1)


def measure(args, scenario: Scenario, sides: dict[str, Side]) -> None:
    paths = {name: scenario.paths(side.manifest, side.server) for name, side in sides.items()}

    def run(name: str, duration: float) -> tuple[dict, tuple[float, float]]:
        pid, database = sides[name].server.process.pid, sides[name].database
        before = cpu_seconds(pid), backends_cpu_seconds(database)
        stats = run_wrk(
            sides[name].server.base_url, scenario.script, paths[name], key=scenario.key,
            duration=duration, connections=args.connections, threads=args.threads,
            cpus=WRK_CPU if args.pin else None,
        )  # fmt: skip
        return stats, (cpu_seconds(pid) - before[0], backends_cpu_seconds(database) - before[1])

    for name in SIDES:
        run(name, args.warm_up)
    for round_index in range(args.rounds):
        for name in SIDES if round_index % 2 == 0 else reversed(SIDES):
            stats, cpu = run(name, args.duration)
            sides[name].record(scenario.name, stats, cpu)
        print(
            f"  {scenario.name} round {round_index + 1}: "
            + ", ".join(f"{n} {sides[n].rates[scenario.name][-1]:,.0f}" for n in SIDES)
            + " req/s",
            flush=True,
        )


def table(scenarios: list[Scenario], old: Side, new: Side) -> list[list[str]]:
    rows = [
        [
            "scenario", "request", "old req/s", "new req/s", "new/old", "rounds new/old",
            "old CPU us/req", "new CPU us/req", "old PG us/req", "new PG us/req",
            "errors old/new", "target", "notes",
        ]
    ]  # fmt: skip
    for s in scenarios:
        ratio = new.median(s.name) / max(old.median(s.name), 0.001)
        rounds = " ".join(
            f"{n / max(o, 0.001):.2f}"
            for o, n in zip(old.rates[s.name], new.rates[s.name], strict=True)
        )
        notes = [
            f"{side.name} statuses {side.statuses[s.name]}"
            for side in (old, new)
            if set(side.statuses[s.name]) != {s.expected}
        ]
        if s.per_request > 1:
            notes.append(
                "events/s "
                + ", ".join(f"{d.name} {d.median(s.name) * s.per_request:,.0f}" for d in (old, new))
            )
        rows.append(
            [
                s.name,
                s.request,
                f"{old.median(s.name):,.0f}",
                f"{new.median(s.name):,.0f}",
                f"{ratio:.2f}",
                rounds,
                f"{old.cpu_us(s.name):.0f}",
                f"{new.cpu_us(s.name):.0f}",
                f"{old.database_cpu_us(s.name):.0f}",
                f"{new.database_cpu_us(s.name):.0f}",
                f"{old.errors[s.name]}/{new.errors[s.name]}",
                f">= {TARGET}x " + ("met" if ratio >= TARGET else "NOT met"),
                "; ".join(notes),
            ]
        )
    return rows


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="perf/compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="7fb2311", help="the commit to compare against")
    parser.add_argument("--new", metavar="REF", help="a commit instead of the working tree")
    parser.add_argument("--rounds", type=int, default=5, help="runs per server per scenario")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warm-up", type=int, default=3, help="seconds per server per scenario")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--log-level", default="info", help="EVENTS_LOG_LEVEL of both servers")
    parser.add_argument(
        "--only", help="comma-separated scenarios: " + ",".join(s.name for s in SCENARIOS)
    )
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a throwaway)")
    parser.add_argument(
        "--shared-venv", dest="venvs", action="store_false",
        help="both sides with this venv (default: each side's own, from its locks)",
    )  # fmt: skip
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help=f"servers and wrk share the CPUs (default: servers on CPU {SERVER_CPU}, wrk on "
        f"CPU {WRK_CPU}, with taskset)",
    )
    parser.add_argument(
        "--load", choices=("generate", "api"), default="generate",
        help="fill each database with its side's perf/generate.py or through its server's API",
    )  # fmt: skip
    return parser.parse_args(argv)


def generate(tree: Path, python: str, url: str, manifest_path: Path) -> dict:
    """The standard data set, written by `tree`'s own perf/generate.py."""
    command = [python, "-m", "perf.generate", "--database-url", url, "--reset"]
    subprocess.run([*command, "--manifest", str(manifest_path)], cwd=tree, check=True)
    return json.loads(manifest_path.read_text())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_binary()
    chosen = args.only.split(",") if args.only else [s.name for s in SCENARIOS]
    unknown = set(chosen) - {s.name for s in SCENARIOS}
    if unknown:
        sys.exit(f"no such scenario: {', '.join(sorted(unknown))}")
    scenarios = [s for s in SCENARIOS if s.name in chosen]
    facts = announced_facts()
    work = Path(tempfile.mkdtemp(prefix="perf-compare-"))
    trees = {"old": work / "baseline", "new": work / "new" if args.new else ROOT}
    pg = None
    servers: list[LiveServer] = []
    try:
        labels = {
            "old": export_tree(ROOT, args.baseline, trees["old"]),
            "new": export_tree(ROOT, args.new, trees["new"]) if args.new else tree_label(ROOT),
        }
        print(f"old: {labels['old']}, new: {labels['new']} (exported under {work})", flush=True)
        pythons = {n: str(tree_venv(trees[n])) if args.venvs else sys.executable for n in SIDES}
        if args.venvs:
            moved = version_differences(Path(pythons["old"]), Path(pythons["new"]))
            print("Versions old -> new: " + (", ".join(moved) or "the same"), flush=True)
        for name, tree in trees.items():
            imported_from(tree, pythons[name])  # refuses to serve another tree's code
        pin = ("taskset", "-c", SERVER_CPU) if args.pin else ()
        if args.database_url:
            urls = create_databases(args.database_url, [f"compare_{n}" for n in SIDES])
        else:
            pg = PostgresServer().start()
            urls = [pg.create_database(f"compare_{n}") for n in SIDES]
        sides = {}
        for name, url in zip(SIDES, urls, strict=True):
            if args.load == "generate":
                print(f"Generating {name}'s data set ({url.split('@')[-1]}) ...", flush=True)
                manifest = generate(trees[name], pythons[name], url, work / f"{name}.json")
            server = LiveServer(
                url, work / f"server-{name}.log", cwd=trees[name],
                command=(*pin, pythons[name], "-m", "session_events.cli"),
                EVENTS_LOG_LEVEL=args.log_level, EVENTS_VALIDATE_RESPONSES="true",
            )  # fmt: skip
            servers.append(server.start())
            if args.load == "api":
                print(f"Loading {name}'s data set through its API ...", flush=True)
                manifest = api_load.load(server.base_url, WRITE_KEY)
            print(f"  {manifest['events']:,} events in {manifest['total_s']} s", flush=True)
            sides[name] = Side(name, server, manifest, url.rsplit("/", 1)[1].split("?")[0])
        print(
            f"Scenarios: {args.rounds} rounds of {args.duration:g} s per server, "
            f"{args.connections} connections, wrk -t{args.threads}:",
            flush=True,
        )
        for scenario in scenarios:
            measure(args, scenario, sides)
        rows = table(scenarios, sides["old"], sides["new"])
        rss = ", ".join(f"{n} {rss_mb(sides[n].server.process.pid):.0f} MB" for n in SIDES)
        print(
            f"\n{facts['date']}, {facts['nproc']} CPUs ({facts['cpu']}), {facts['memory']}; "
            f"old {labels['old']}, new {labels['new']}; median of {args.rounds} rounds of "
            f"{args.duration:g} s, {args.connections} connections, wrk -t{args.threads}, "
            f"one server process each, response validation on, log level {args.log_level}; "
            f"{'own venvs' if args.venvs else 'one venv'}, "
            f"{'servers on CPU 0, wrk on CPU 1' if args.pin else 'CPUs shared'}, "
            f"data by {args.load}; "
            f"load average before {facts['load average']}, after {load_average()}; "
            f"RSS at the end: {rss}"
        )
        print_table(rows)
        print("\nMarkdown:\n")
        print_markdown(rows)
    finally:
        stop_all(servers, pg)
        for name in SIDES if args.new else ("old",):
            shutil.rmtree(trees[name], ignore_errors=True)
        print(f"\nServer logs: {work}")


if __name__ == "__main__":
    main()
