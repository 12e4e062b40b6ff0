"""What checking a session token costs on the poll, beside an API key (issue 26), in one
alternating run.

One `session-events serve` per database (a throwaway PostgreSQL, and a SQLite file), pinned to
CPU 0 with wrk on CPU 1 as in perf/compare; one session of `--events` events and one read token.
Per scenario, a warm-up of each credential, then rounds alternating key, token, token, key, ...
of one wrk run each on the same request: the poll (`per_page=20`, 200) and the unchanged poll
(the same with the ETag of its first answer in If-None-Match, 304). Printed: req/s and p50 per
round, token/key per round and of the medians, and the server's CPU time per request.

    .venv/bin/python -m perf.token_cost [--backend both|postgresql|sqlite] [--rounds 6]
                                        [--duration 5] [--warm-up 2] [--events 200]
"""

from __future__ import annotations

import argparse
import os
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
from support.pg_server import PostgresServer
from support.processes import cpu_seconds

SERVER_CPU, WRK_CPU = "0", "1"
CREDENTIALS = ("key", "token")
SECRET = "perf-token-cost-secret-".ljust(48, "x")
QUERY = "per_page=20"


def prepare(server: LiveServer, events: int) -> tuple[str, str, str]:
    """A session of `events` events; its poll's path, that path's ETag, and a read token."""
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": WRITE_KEY}) as http:
        session_id, _ = seeded_session(http, events)
        minted = http.post(f"/api/v2/sessions/{session_id}/tokens", json={"scope": "read"})
        minted.raise_for_status()
        path = events_path(session_id, QUERY)
        etag = http.get(path, headers={"X-API-Key": READ_KEY}).headers["etag"]
    return path, etag, minted.json()["token"]


def run(server: LiveServer, credential: str, token: str, target: str, duration: int, args) -> dict:
    """One wrk run of `target` ("PATH" or "PATH ETAG") with the key or the token; the server's
    CPU seconds spent on it under "cpu_s"."""
    script, headers, env = "get.lua", ["-H", f"X-API-Key: {READ_KEY}"], {}
    if credential == "token":
        script, headers, env = "get_bearer.lua", [], {"WRK_BEARER_TOKEN": token}
    command = [
        "taskset", "-c", WRK_CPU, wrk_binary(), f"-t{args.threads}", f"-c{args.connections}",
        f"-d{duration}s", "--timeout", "10s", *headers,
        "-s", str(WRK_DIR / script), server.base_url, "--", target,
    ]  # fmt: skip
    before = cpu_seconds(server.process.pid)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
    stats = wrk_result(done.stdout, done.stderr)
    stats["cpu_s"] = cpu_seconds(server.process.pid) - before
    return stats


def measure(backend: str, server: LiveServer, args) -> list[list[str]]:
    path, etag, token = prepare(server, args.events)
    rows = []
    for scenario, target, expected in (
        ("poll", path, "200"),
        ("unchanged", f"{path} {etag}", "304"),
    ):
        for credential in CREDENTIALS:
            run(server, credential, token, target, args.warm_up, args)
        results: dict[str, list[dict]] = {c: [] for c in CREDENTIALS}
        for index in range(args.rounds):
            for credential in CREDENTIALS if index % 2 == 0 else reversed(CREDENTIALS):
                stats = run(server, credential, token, target, args.duration, args)
                if set(stats["statuses"]) != {expected}:
                    sys.exit(f"{scenario} with the {credential}: statuses {stats['statuses']}")
                results[credential].append(stats)
            key, tok = results["key"][-1], results["token"][-1]
            print(
                f"  {backend} {scenario} round {index + 1}: key {key['req_per_s']:,.0f} req/s "
                f"p50 {key['latency_ms']['p50']:.1f} ms, token {tok['req_per_s']:,.0f} req/s "
                f"p50 {tok['latency_ms']['p50']:.1f} ms, token/key "
                f"{tok['req_per_s'] / key['req_per_s']:.2f}",
                flush=True,
            )
        rows.append(row(backend, scenario, expected, results))
    return rows


def row(backend: str, scenario: str, expected: str, results: dict[str, list[dict]]) -> list[str]:
    rates = {c: [r["req_per_s"] for r in results[c]] for c in CREDENTIALS}
    p50 = {c: statistics.median(r["latency_ms"]["p50"] for r in results[c]) for c in CREDENTIALS}
    cpu_us = {
        c: sum(r["cpu_s"] for r in results[c]) * 1e6 / sum(r["requests"] for r in results[c])
        for c in CREDENTIALS
    }
    median = {c: statistics.median(rates[c]) for c in CREDENTIALS}
    rounds = " ".join(f"{t / k:.2f}" for k, t in zip(rates["key"], rates["token"], strict=True))
    return [
        backend, f"{scenario} ({expected})",
        f"{median['key']:,.0f}", f"{median['token']:,.0f}",
        f"{median['token'] / median['key']:.2f}", rounds,
        f"{p50['key']:.1f}", f"{p50['token']:.1f}",
        f"{cpu_us['key']:.0f}", f"{cpu_us['token']:.0f}",
    ]  # fmt: skip


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="perf.token_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("both", "postgresql", "sqlite"), default="both")
    add_round_arguments(parser, per="credential")
    parser.add_argument("--events", type=int, default=200, help="events in the session")
    parser.add_argument("--log-level", default="info", help="EVENTS_LOG_LEVEL of the server")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    facts = announced_facts()
    work = Path(tempfile.mkdtemp(prefix="perf-token-cost-"))
    backends = ("postgresql", "sqlite") if args.backend == "both" else (args.backend,)
    pg, servers, rows = None, [], []
    try:
        for backend in backends:
            if backend == "postgresql":
                pg = PostgresServer().start()
                url = pg.create_database("token_cost")
            else:
                url = f"sqlite:///{work}/events.db"
            server = LiveServer(
                url, work / f"server-{backend}.log",
                command=("taskset", "-c", SERVER_CPU, sys.executable, "-m", "session_events.cli"),
                EVENTS_LOG_LEVEL=args.log_level, EVENTS_VALIDATE_RESPONSES="true",
                EVENTS_TOKEN_SECRETS=SECRET,
            )  # fmt: skip
            servers.append(server.start())
            rows += measure(backend, server, args)
            server.stop()
    finally:
        stop_all(servers, pg)
    header = [
        "database", "request", "key req/s", "token req/s", "token/key", "rounds token/key",
        "key p50 ms", "token p50 ms", "key CPU us/req", "token CPU us/req",
    ]  # fmt: skip
    print(
        f"\n{facts['date']}, {facts['nproc']} CPUs ({facts['cpu']}); GET {QUERY} of one session "
        f"of {args.events} events; median of {args.rounds} rounds of {args.duration} s per "
        f"credential, alternating; {args.connections} connections, wrk -t{args.threads}; server "
        f"on CPU {SERVER_CPU}, wrk on CPU {WRK_CPU}; response validation on, log level "
        f"{args.log_level}; load average before {facts['load average']}, after {load_average()}"
    )
    print_both([header, *rows])
    print(f"\nServer logs: {work}")


if __name__ == "__main__":
    main()
