"""The appends of perf/fanout.py, each stamped when sent and when its 201 arrives.

Raw HTTP/1.1 over asyncio streams on uvloop, on a few keep-alive connections: a thousand appends a
second through httpx cost the driver more CPU than it has, its loop then sees each 201 late and the
latency after the 201 comes out too small (negative), so the appender must stay light too.
"""

from __future__ import annotations

import asyncio
import json
import time

import uvloop

from support.live_server import WRITE_KEY


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {WRITE_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        length = int(head.split(b"\r\ncontent-length:", 1)[1].split(b"\r\n", 1)[0])
        return int(head[9:12]), await self.reader.readexactly(length)


class Appends:
    """The appends made: (session, seq) -> (sent, 201 arrived), and the refused ones apart."""

    def __init__(self, port: int, connections: int):
        self.port, self.connections = port, connections
        self.stamps: dict[tuple[str, int], tuple[float, float]] = {}
        self.refused: list[str] = []

    def in_turn(self, session: str, appends: int, interval: float) -> None:
        """`appends` appends to `session`, one after the other, `interval` seconds apart."""

        async def appending(idle: asyncio.Queue) -> None:
            for n in range(appends):
                await self.one(idle, session, n)
                await asyncio.sleep(interval)

        self.run(appending)

    def to_each(self, sessions: list[str], seconds: int) -> None:
        """One append to each session every second, spread evenly over the second."""

        async def appending(idle: asyncio.Queue) -> None:
            start = time.monotonic() + 0.1

            async def rounds(index: int, session: str) -> None:
                for second in range(seconds):
                    due = start + second + index / len(sessions)
                    await asyncio.sleep(max(0, due - time.monotonic()))
                    await self.one(idle, session, second)

            await asyncio.gather(*(rounds(i, s) for i, s in enumerate(sessions)))

        self.run(appending)

    def run(self, appending) -> None:
        async def main() -> None:
            idle: asyncio.Queue[Connection] = asyncio.Queue()
            for _ in range(self.connections):
                idle.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", self.port)))
            try:
                await appending(idle)
            finally:
                while not idle.empty():
                    idle.get_nowait().writer.close()

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())

    async def one(self, idle: asyncio.Queue, session: str, n: int) -> None:
        body = json.dumps(
            {"events": [{"event_type": "step_status_changed", "event_data": {"n": n}}]}
        ).encode()
        connection = await idle.get()
        try:
            sent = time.monotonic()
            status, answer = await connection.post(f"/api/v2/sessions/{session}/events", body)
            acknowledged = time.monotonic()
        finally:
            idle.put_nowait(connection)
        if status != 201:  # nothing to deliver; today's server says 503 when its pool is busy
            self.refused.append(f"{status} after {acknowledged - sent:.1f} s")
            return
        self.stamps[session, json.loads(answer)["items"][0]["seq"]] = (sent, acknowledged)
