"""The client's figures: events/s through a Producer, and the delay from emit() to `tail`.

One server process on a throwaway PostgreSQL (or EVENTS_DATABASE_URL's, as perf/'s other
scripts). First a
Producer emits --events events as fast as one thread can; then a producer emits one event every
20 ms while `session-events-client tail --json` runs as a subprocess, and each event's delay is
the time from its emit() to the line tail printed (one clock: the same machine).

    .venv/bin/python -m perf.client_figures [--events 100000] [--delays 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from session_events_client import Client

from support.live_server import WRITE_KEY, LiveServer
from support.pg_server import perf_database

TAIL = str(Path(sys.executable).parent / "session-events-client")


def throughput(client: Client, events: int, batch_size: int) -> float:
    session = client.create_session("load_test")
    began = time.perf_counter()
    with client.producer(session.id, batch_size=batch_size) as producer:
        for n in range(events):
            producer.emit("llm_call", message="a prompt and its answer", event_data={"n": n})
    seconds = time.perf_counter() - began
    assert client.get_session(session.id).event_count == events == producer.stored
    client.delete_session(session.id)
    return events / seconds


def delays(client: Client, base_url: str, count: int, max_delay: float) -> list[float]:
    session = client.create_session("load_test")
    env = {**os.environ, "EVENTS_URL": base_url, "EVENTS_API_KEY": WRITE_KEY}
    tail = subprocess.Popen([TAIL, "tail", str(session.id), "--json"], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    arrived: dict[int, float] = {}

    def read() -> None:
        for line in tail.stdout:
            n = json.loads(line)["event_data"].get("n")  # the closing status_changed has none
            if n is not None:
                arrived[n] = time.perf_counter()

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(1)  # tail connected
    emitted = {}
    with client.producer(session.id, max_delay=max_delay) as producer:
        for n in range(count):
            emitted[n] = time.perf_counter()
            producer.emit("log", event_data={"n": n})
            time.sleep(0.02)
    client.update_session(session.id, status="completed")
    tail.wait(timeout=60)
    reader.join()
    client.delete_session(session.id)
    return [(arrived[n] - emitted[n]) * 1000 for n in range(count)]


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[round(share * 100) - 1]


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--events", type=int, default=100_000)
    options.add_argument("--delays", type=int, default=500)
    args = options.parse_args()
    with perf_database("client_figures") as url, tempfile.TemporaryDirectory() as folder:
        server = LiveServer(url, Path(folder) / "server.log").start()
        try:
            with Client(server.base_url, api_key=WRITE_KEY) as client:
                for batch_size in (100, 1000):
                    rate = throughput(client, args.events, batch_size)
                    print(f"Producer, batches of up to {batch_size}: {rate:,.0f} events/s")
                for max_delay in (0.2, 0.01):
                    ms = delays(client, server.base_url, args.delays, max_delay)
                    print(f"emit -> tail printed, max_delay {max_delay * 1000:.0f} ms: "
                          f"p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
                          f"max {max(ms):.1f} ms ({len(ms)} events)")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
