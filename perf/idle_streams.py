"""1,000 idle stream connections on one server process: its memory (RSS) and CPU while they wait.

Opens the streams (raw HTTP/1.1 over asyncio, to keep the client light), waits until each has its
`retry:` line, then samples the server's RSS and CPU time from /proc over a quiet window in which
the only traffic is the heartbeats (every 15 s by default).

    .venv/bin/python -m perf.idle_streams [--connections 1000] [--window 30]

Uses EVENTS_DATABASE_URL when it names a PostgreSQL database, otherwise starts a throwaway server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import httpx

from support.live_server import READ_KEY, WRITE_KEY, LiveServer
from support.pg_server import perf_database

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def open_stream(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {READ_KEY}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"retry:")  # headers, then the stream's first line
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return reader, writer


async def drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def measure(server: LiveServer, connections: int, window: float) -> dict:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        created = await http.post(
            "/api/v2/sessions", json={"session_type": "perf"}, headers={"X-API-Key": WRITE_KEY}
        )
    path = f"/api/v2/sessions/{created.json()['id']}/events/stream"
    pid = server.process.pid
    before = rss_mb(pid)
    started = time.perf_counter()
    streams = []
    for start in range(0, connections, 100):  # in waves, as a fleet of browsers would
        wave = min(100, connections - start)
        streams += await asyncio.gather(*(open_stream(server.port, path) for _ in range(wave)))
    opened_in = time.perf_counter() - started
    draining = [asyncio.create_task(drain(reader)) for reader, _ in streams]
    await asyncio.sleep(2)  # let the opening burst settle
    cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(window)
    cpu_used, wall = cpu_seconds(pid) - cpu_before, time.perf_counter() - wall_before
    result = {
        "connections": len(streams),
        "opened_in_s": round(opened_in, 2),
        "rss_before_mb": round(before, 1),
        "rss_with_streams_mb": round(rss_mb(pid), 1),
        "idle_window_s": round(wall, 1),
        "idle_cpu_percent_of_one_core": round(100 * cpu_used / wall, 2),
    }
    for task in draining:
        task.cancel()
    for _, writer in streams:
        writer.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--window", type=float, default=30.0, help="seconds of idle sampling")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.connections)), hard))
    with perf_database("perf") as url:
        server = LiveServer(url, Path(tempfile.mkdtemp(prefix="perf-idle-")) / "server.log")
        try:
            server.start()
            print(json.dumps(asyncio.run(measure(server, args.connections, args.window)), indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
