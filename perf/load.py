"""wrk, the load tool of perf/bench and perf/compare: one run of a perf/wrk/*.lua script.

The Lua scripts set the headers, If-None-Match and POST bodies, count statuses, and print one
`WRK_JSON {...}` line: requests, req/s, latency percentiles (ms), errors and status counts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

WRK_DIR = Path(__file__).resolve().parent / "wrk"


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    return found


def wrk_command(
    base_url: str, script: str, args: list[str], *, key: str, duration: float,
    connections: int, threads: int,
) -> list[str]:  # fmt: skip
    return [
        wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{round(duration)}s",
        "--timeout", "10s", "-H", f"X-API-Key: {key}", "-s", str(WRK_DIR / script), base_url,
        "--", *args,
    ]  # fmt: skip


def wrk_result(stdout: str, stderr: str = "") -> dict:
    """The WRK_JSON line a script's done() printed."""
    for line in stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON ") :])
    raise RuntimeError(f"wrk printed no result: {stdout}\n{stderr}")


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
    cpus: str | None = None,
) -> dict:
    """One run; `cpus` (taskset's list, "1") keeps wrk on those CPUs."""
    command = wrk_command(
        base_url, script, args, key=key, duration=duration, connections=connections,
        threads=threads,
    )  # fmt: skip
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    environment = {**os.environ, **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    return wrk_result(result.stdout, result.stderr)


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


def error_count(stats: dict) -> int:
    """Responses outside 2xx/3xx plus socket errors (connect, read, write, timeout)."""
    return sum(stats["errors"].values())


def add_round_arguments(parser, per: str) -> None:
    """The arguments of an alternating run of wrk rounds: how many rounds, of how long, after
    what warm-up, with how many connections and threads (`per`: what a round runs one of)."""
    parser.add_argument("--rounds", type=int, default=6, help=f"runs per {per}")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--warm-up", type=int, default=2, help=f"seconds per {per}")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
