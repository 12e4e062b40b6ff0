"""perf/bench --soak: mixed load on one server for some minutes, its RSS sampled every 30 s."""

from __future__ import annotations

import subprocess
import time

from perf.load import error_count, wrk_command, wrk_result
from perf.paths import events_path, poll_paths, unchanged_paths
from support.live_server import READ_KEY, WRITE_KEY, LiveServer
from support.processes import rss_mb


def soak(minutes: float, manifest: dict, server: LiveServer) -> list[tuple[float, float]]:
    """Mixed load for `minutes`, one wrk per kind of client; (seconds, RSS MB) samples."""
    seconds = int(minutes * 60)
    ten_k = manifest["sessions_10k"]
    ids = [s["id"] for s in ten_k]
    loads = [  # name, script, arguments, key, connections
        ("poll", "get.lua", poll_paths(ten_k), READ_KEY, 20),
        ("unchanged poll", "get.lua", unchanged_paths(server.base_url, ten_k), READ_KEY, 10),
        ("initial", "get.lua", [events_path(i, "per_page=100") for i in ids], READ_KEY, 5),
        ("troubleshoot", "get.lua",
         [events_path(i, "event_type=workflow_error&per_page=20") for i in ids], READ_KEY, 5),
        ("append", "append.lua", manifest["append_sessions"], WRITE_KEY, 5),
    ]  # fmt: skip
    processes = [
        subprocess.Popen(
            wrk_command(
                server.base_url,
                script,
                paths,
                key=key,
                duration=seconds,
                connections=connections,
                threads=1,
            ),
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
        out, err = process.communicate()
        stats = wrk_result(out, err)
        print(
            f"  {name}: {stats['req_per_s']:.0f} req/s, errors {error_count(stats)}, "
            f"statuses {stats['statuses']}"
        )
    return samples


def print_soak(minutes: float, samples: list[tuple[float, float]]) -> None:
    by_minute = {round(t / 60, 1): mb for t, mb in samples}
    print("RSS series (min: MB): " + ", ".join(f"{m}: {mb:.1f}" for m, mb in by_minute.items()))

    def near(minute: float) -> float:
        return min(samples, key=lambda s: abs(s[0] - minute * 60))[1]

    print(
        f"Minute 1: {near(1):.1f} MB, minute {minutes:g}: {near(minutes):.1f} MB "
        "(target <= 150 MB, flat)"
    )
