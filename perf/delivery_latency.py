"""Delivery latency: from an append's 201 to the event at a stream client and a long-poll client.

Two `session-events serve` processes on one PostgreSQL: the producer appends through the first,
one event per request, and a stream client and a long-poll client read through the second, so
every delivery crosses processes through LISTEN/NOTIFY. Latency is measured from the moment the
producer has the 201 (negative when the event arrived first) and, for reference, from the moment
the append was sent.

    .venv/bin/python -m perf.delivery_latency [--events 1000] [--interval 0.02]

Uses EVENTS_DATABASE_URL when it names a PostgreSQL database, otherwise starts a throwaway server
from the machine's binaries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from support.live_server import READ_KEY, WRITE_KEY, LiveServer
from support.pg_server import perf_database

READ = {"X-API-Key": READ_KEY}
WRITE = {"X-API-Key": WRITE_KEY}


def quantiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100)
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


async def stream_reader(http: httpx.AsyncClient, url: str, count: int, arrived: dict) -> None:
    async with http.stream("GET", url, headers=READ) as response:
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                arrived[int(line[4:])] = time.perf_counter()
                if len(arrived) == count:
                    return


async def long_poll_reader(http: httpx.AsyncClient, url: str, count: int, arrived: dict) -> None:
    cursor = 0
    while cursor < count:
        response = await http.get(
            url, params={"after_seq": cursor, "order": "asc", "per_page": 100, "wait": 30},
            headers=READ,
        )  # fmt: skip
        now = time.perf_counter()
        for event in response.json()["items"]:
            arrived[event["seq"]] = now
            cursor = event["seq"]


async def measure(writer_url: str, reader_url: str, events: int, interval: float) -> dict:
    limits = httpx.Limits(max_connections=10)
    async with (
        httpx.AsyncClient(base_url=writer_url, timeout=60, limits=limits) as writer,
        httpx.AsyncClient(base_url=reader_url, timeout=60, limits=limits) as reader,
    ):
        created = await writer.post(
            "/api/v2/sessions", json={"session_type": "perf"}, headers=WRITE
        )
        session = created.json()["id"]
        streamed, polled, sent, acknowledged = {}, {}, {}, {}
        readers = [
            asyncio.create_task(
                stream_reader(reader, f"/api/v2/sessions/{session}/events/stream", events, streamed)
            ),
            asyncio.create_task(
                long_poll_reader(reader, f"/api/v2/sessions/{session}/events", events, polled)
            ),
        ]
        await asyncio.sleep(1)  # both readers connected and waiting
        for seq in range(1, events + 1):
            sent[seq] = time.perf_counter()
            response = await writer.post(
                f"/api/v2/sessions/{session}/events",
                json={"events": [{"event_type": "step_status_changed", "event_data": {"n": seq}}]},
                headers=WRITE,
            )
            acknowledged[seq] = time.perf_counter()
            assert response.status_code == 201, response.text
            await asyncio.sleep(interval)
        await asyncio.wait_for(asyncio.gather(*readers), 60)

    def latencies(arrived: dict, since: dict) -> list[float]:
        return [arrived[seq] - since[seq] for seq in range(1, events + 1)]

    return {
        "events": events,
        "stream_after_201": quantiles(latencies(streamed, acknowledged)),
        "long_poll_after_201": quantiles(latencies(polled, acknowledged)),
        "stream_after_send": quantiles(latencies(streamed, sent)),
        "long_poll_after_send": quantiles(latencies(polled, sent)),
        "append_round_trip": quantiles(latencies(acknowledged, sent)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between appends")
    args = parser.parse_args()
    with perf_database("perf") as url:
        logs = Path(tempfile.mkdtemp(prefix="perf-delivery-"))
        servers = [LiveServer(url, logs / f"server-{n}.log") for n in (1, 2)]
        try:
            for server in servers:
                server.start()
            result = asyncio.run(
                measure(servers[0].base_url, servers[1].base_url, args.events, args.interval)
            )
            print(json.dumps(result, indent=2))
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
