"""Live delivery to many SSE watchers: N streams on one session, or one on each of M sessions.

One `session-events serve` on PostgreSQL (`--workers` processes); the streams are opened by a
separate load process (perf/fanout_load.py: raw sockets, one epoll loop); this driver appends
through the API (perf/fanout_appends.py: raw HTTP on keep-alive connections) and stamps each
append when it is sent and when its 201 arrives (time.monotonic: CLOCK_MONOTONIC, shared by the
processes of one machine). A delivery's latency runs from the 201 (the commit as the appender
sees it) to the moment the load process reads `id: <seq>` from a stream; from the send, for
reference (an upper bound). Every stream must get every append: the
ones that do not are counted as misses. The server's RSS is read from /proc before the streams
open and once all have their `retry:` line.

    .venv/bin/python -m perf.fanout --streams 1000               # 5 appends, a second apart
    .venv/bin/python -m perf.fanout --streams 1                  # 200 appends, 20 ms apart
    .venv/bin/python -m perf.fanout --sessions 1000 --seconds 10 # an append to each, every second
    .venv/bin/python -m perf.fanout --streams 4000 --workers 2
    .venv/bin/python -m perf.fanout --streams 1000 --baseline fe1fdb0  # an older commit's server

Prints a JSON document, then a short summary. By default the server runs on CPU 0 and the load
process and this driver on CPU 1 (`--no-pin`: wherever the kernel puts them; with `--workers`
above 1 the server's processes are never pinned). Heartbeats are set an hour apart so that none
fall inside the measurement. Uses EVENTS_DATABASE_URL when it names a PostgreSQL database,
otherwise a throwaway cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from perf.fanout_appends import Appends
from perf.fanout_load import LOAD_CPU, STREAMS_PER_LOAD, Load, deal, raise_file_limit
from perf.machine import load_average
from perf.trees import export_tree, imported_from, tree_label
from support.live_server import WRITE_KEY, LiveServer
from support.pg_server import perf_database
from support.processes import cpu_seconds, rss_mb

ROOT = Path(__file__).resolve().parent.parent

WRITE = {"X-API-Key": WRITE_KEY}
SERVER_CPU = 0


def quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


def processes_of(pid: int) -> list[int]:
    """The server process and its worker processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle(pid: int, limit: float) -> float:
    """Wait until the server uses under a tenth of a core over half a second (at most `limit` s);
    the seconds it took."""
    start = time.monotonic()
    used = cpu_seconds(pid)
    while time.monotonic() - start < limit:
        time.sleep(0.5)
        used, before = cpu_seconds(pid), used
        if used - before < 0.05:
            break
    return round(time.monotonic() - start, 1)


def pin(pid: int, cpu: int) -> None:
    for thread in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(thread), {cpu})


def create_sessions(base_url: str, count: int) -> list[str]:
    with httpx.Client(base_url=base_url, headers=WRITE, timeout=60) as http:
        return [
            http.post("/api/v2/sessions", json={"session_type": "perf"}).json()["id"]
            for _ in range(count)
        ]


def measure(server: LiveServer, args: argparse.Namespace, pinned: bool) -> dict:
    sessions = create_sessions(server.base_url, args.sessions or 1)
    per_session = args.streams if not args.sessions else 1
    paths = [f"/api/v2/sessions/{s}/events/stream" for s in sessions]
    pids = processes_of(server.process.pid)
    files_before = {pid: open_files(pid) for pid in pids}
    rss_before = rss_mb(server.process.pid)
    streams = len(sessions) * per_session
    shares = deal([per_session] * len(sessions), -(-streams // STREAMS_PER_LOAD))
    loads = [Load(server.port, paths, share, pinned) for share in shares]
    try:
        opening = [load.hear(timeout=args.open_timeout) for load in loads]
        opened = {
            "ready": sum(o["ready"] for o in opening),
            "failed": sum(o["failed"] for o in opening),
            "errors": [e for o in opening for e in o["errors"]][:10],
            "opened_in_s": max(o["opened_in_s"] for o in opening),
        }
        print(f"{opened['ready']} streams ready in {opened['opened_in_s']} s", file=sys.stderr)
        # A stream sends `retry:` before its first read: the server may still be reading for them.
        settled_in = settle(server.process.pid, limit=args.open_timeout)
        rss_open = rss_mb(server.process.pid)
        streams_per_process = [open_files(pid) - files_before[pid] for pid in pids]
        driver_cpu, server_cpu, wall = (
            time.process_time(),
            cpu_seconds(server.process.pid),
            time.monotonic(),
        )
        if args.sessions:
            appends = Appends(server.port, connections=64)
            appends.to_each(sessions, args.seconds)
        else:
            appends = Appends(server.port, connections=1)
            appends.in_turn(sessions[0], args.appends, args.interval)
        stamps = appends.stamps
        appended = {session: [] for session in sessions}
        for session, seq in stamps:
            appended[session].append(seq)
        for load in loads:
            expect = [len(appended[sessions[g]]) for g, _ in load.share]
            load.tell({"expect": expect, "timeout": args.wait})
        heard = []
        for load in loads:
            heard.append(load.hear(timeout=args.wait + 60))
            heard[-1]["share"] = load.share
        server_cpu, wall = cpu_seconds(server.process.pid) - server_cpu, time.monotonic() - wall
    finally:
        for load in loads:
            load.stop()
    after_201, after_send, received, repeated = [], [], 0, 0
    by_seq: dict[int, list[float]] = {}  # seq: latencies after the 201
    arrivals_by_group = [
        (told["share"][local][0], arrivals)
        for told in heard
        for local, arrivals in told["arrivals"]
    ]
    for group, arrivals in arrivals_by_group:
        session = sessions[group]
        seen = {}
        for seq, at in arrivals:
            repeated += seq in seen
            seen.setdefault(seq, at)
        for seq in appended[session]:
            if seq in seen:
                received += 1
                sent, acknowledged = stamps[session, seq]
                after_201.append(seen[seq] - acknowledged)
                by_seq.setdefault(seq, []).append(seen[seq] - acknowledged)
                after_send.append(seen[seq] - sent)
    round_trips = [ack - sent for sent, ack in stamps.values()]
    span = max(a for _, a in stamps.values()) - min(s for s, _ in stamps.values()) if stamps else 0
    expected = sum(len(appended[s]) * per_session for s in sessions)
    return {
        "streams": streams,
        "sessions": len(sessions),
        "workers": args.workers,
        "pinned": pinned,
        "streams_ready": opened["ready"],
        "streams_failed": opened["failed"],
        "open_errors": opened["errors"],
        "opened_in_s": opened["opened_in_s"],
        "server_busy_after_open_s": settled_in,
        "server_rss_before_mb": round(rss_before, 1),
        "server_rss_with_streams_mb": round(rss_open, 1),
        "kb_per_idle_stream": round((rss_open - rss_before) * 1024 / max(1, streams), 1),
        "open_files_added_per_server_process": streams_per_process,
        "appends": len(stamps),
        "appends_per_s": round(len(stamps) / span, 1) if span else None,  # achieved
        "appends_refused": len(appends.refused),
        "refusals": appends.refused[:10],
        "received": received,
        "expected": expected,
        "misses": expected - received,
        "repeats": repeated,
        "streams_closed_early": sum(told["closed"] for told in heard),
        "after_201": quantiles(after_201),
        "after_send": quantiles(after_send),
        "append_round_trip": quantiles(round_trips),
        # p50 and max after the 201 of each seq (each append in turn; each round with --sessions)
        "per_seq_p50_max_ms": [
            [quantiles(by_seq[seq])["p50_ms"], quantiles(by_seq[seq])["max_ms"]]
            for seq in sorted(by_seq)[:20]
        ],
        "load_processes": len(loads),
        "load_processes_cpu_s": sum(told["cpu_s"] for told in heard),
        "driver_cpu_s_appending": round(time.process_time() - driver_cpu, 2),
        # The server's CPU time from the first append to the last delivery, a share of the wall
        # time: well under 1 (a core) for one process means something else had the CPU.
        "server_cores_used_while_delivering": round(server_cpu / wall, 2),
    }


def summary(result: dict) -> str:
    a, s = result["after_201"], result["after_send"]
    return (
        f"{result['streams']} streams on {result['sessions']} session(s), "
        f"{result['workers']} worker(s): {result['received']}/{result['expected']} delivered "
        f"({result['misses']} missed, {result['appends_refused']} appends refused); after the "
        f"201 p50 {a['p50_ms']} ms, p95 {a['p95_ms']}, "
        f"p99 {a['p99_ms']}, max {a['max_ms']}; after the send p50 {s['p50_ms']}, p99 "
        f"{s['p99_ms']}; server RSS {result['server_rss_before_mb']} -> "
        f"{result['server_rss_with_streams_mb']} MB ({result['kb_per_idle_stream']} KB a stream); "
        f"opened in {result['opened_in_s']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="streams on one session")
    parser.add_argument("--sessions", type=int, help="one stream on each of this many sessions")
    parser.add_argument("--seconds", type=int, default=10, help="with --sessions: appends rounds")
    parser.add_argument("--appends", type=int, help="default 5 (200 with --streams 1)")
    parser.add_argument("--interval", type=float, help="seconds between appends (1; 0.02 for 1)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="let the kernel place processes")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for deliveries")
    parser.add_argument("--open-timeout", type=float, default=900, help="seconds to open all")
    parser.add_argument("--json", type=Path, help="also write the JSON document here")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="serve this commit's code (exported) instead of the tree's",
    )
    args = parser.parse_args()
    single = args.streams == 1 and not args.sessions
    args.appends = args.appends or (200 if single else 5)
    args.interval = args.interval if args.interval is not None else (0.02 if single else 1.0)
    pinned = not args.no_pin and args.workers == 1 and len(os.sched_getaffinity(0)) > 1
    raise_file_limit()  # inherited by the server and the load process, which raise their own
    before = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": load_average()}
    with perf_database("perf") as url:
        work = Path(tempfile.mkdtemp(prefix="perf-fanout-"))
        log, tree = work / "server.log", None
        label = tree_label(ROOT)
        if args.baseline:  # its packages come first on sys.path when served from there
            tree = work / "baseline"
            label = export_tree(ROOT, args.baseline, tree)
            imported_from(tree)
        server = LiveServer(url, log, cwd=tree, EVENTS_STREAM_HEARTBEAT_SECONDS="3600")
        try:
            server.start("--workers", str(args.workers))
            if pinned:  # after PostgreSQL and the server started, which float or go to CPU 0
                pin(server.process.pid, SERVER_CPU)
                os.sched_setaffinity(0, {LOAD_CPU})
            result = measure(server, args, pinned)
        finally:
            server.stop()
    result["commit"] = label
    result["date"], result["load_average_before"] = before["date"], before["load"]
    result["load_average_after"] = load_average()
    result["server_log"] = str(log)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print(summary(result), file=sys.stderr)


if __name__ == "__main__":
    main()
