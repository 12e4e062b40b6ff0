"""What the live tests of many watchers on one session share: streams on raw connections (light
enough for a thousand at once, and a socket whose reading the test controls), a producer that
knows the last seq it was given, and the check of what one stream received.

A stream is read as bytes and decoded as they arrive (HTTP/1.1 chunks, then SSE messages); an
event's `data` stays text until a check reads it, so the reading itself costs little.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable

import httpx

from tests.conftest import READ, WRITE
from tests.live.conftest import SESSIONS
from tests.live.raw_http import READ_KEY

TIMEOUT = 120  # seconds: only so that a test cannot hang, never a measure of speed


class StreamBody:
    """A response to a stream request, decoded as its bytes are fed: the status, the SSE
    messages as each completes (an event as {"id", "event", "data"} with `data` as text, a
    comment as {"comment": text}, the hint as {"retry": ms}), and whether the body has ended."""

    def __init__(self):
        self.status: int | None = None
        self.messages: list[dict] = []
        self.ended = False
        self.last_id = 0  # the id of the last event received (0: none yet)
        self._raw = b""  # received, not yet decoded from its chunks
        self._text = b""  # decoded, not yet a whole message

    def feed(self, data: bytes) -> None:
        raw = self._raw + data
        if self.status is None:
            head, blank, raw = raw.partition(b"\r\n\r\n")
            if not blank:
                self._raw = head
                return
            self.status = int(head.split(b" ", 2)[1])
            assert b"\r\ntransfer-encoding: chunked" in head.lower(), head
        pieces, at = [self._text], 0
        while not self.ended and (line_end := raw.find(b"\r\n", at)) >= 0:
            size = int(raw[at:line_end], 16)
            start = line_end + 2
            if len(raw) < start + size + 2:
                break
            pieces.append(raw[start : start + size])
            at = start + size + 2
            self.ended = size == 0
        self._raw = raw[at:]
        *blocks, self._text = b"".join(pieces).split(b"\n\n")
        self.messages += [_message(block) for block in blocks]
        self.last_id = next((int(m["id"]) for m in reversed(self.messages) if "id" in m), 0)

    @property
    def ids(self) -> list[int]:
        return [int(message["id"]) for message in self.messages if "id" in message]


def _message(block: bytes) -> dict:
    text = block.decode()
    if text.startswith(":"):
        return {"comment": text[1:].strip()}
    fields = {}
    for line in text.split("\n"):
        name, _, value = line.partition(":")
        assert name not in fields, f"field {name} twice in one message: {text[:300]}"
        fields[name] = value.removeprefix(" ")
    return fields


def stream_request(session_id: str, query: str = "", **headers: str) -> bytes:
    path = f"{SESSIONS}/{session_id}/events/stream" + (f"?{query}" if query else "")
    lines = [f"GET {path} HTTP/1.1", "Host: t", f"X-API-Key: {READ_KEY}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawStream:
    """One stream on a connection of its own (asyncio streams)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.body = StreamBody()
        self.is_started = asyncio.Event()

    @classmethod
    async def open(cls, port: int, request: bytes) -> RawStream:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        return cls(reader, writer)

    async def read_until(self, done: Callable[[StreamBody], bool]) -> StreamBody:
        """Reads until `done(body)` holds or the stream ends (the server closing it ends it too)."""
        while not self.body.ended and not done(self.body):
            data = await self.reader.read(65536)
            if not data:
                break
            self.body.feed(data)
        return self.body

    async def started(self) -> StreamBody:
        """Once the answer's head and the first message (the retry hint) are in."""
        body = await self.read_until(lambda body: bool(body.messages))
        assert body.status == 200 and body.messages and "retry" in body.messages[0], body.messages
        self.is_started.set()
        return body

    async def follow(self) -> StreamBody:
        """Started, then read to its end (one task per stream: a connection has one reader);
        the connection is closed then."""
        try:
            await self.started()
            return await self.read_to_end()
        finally:
            self.close()

    async def read_to_end(self) -> StreamBody:
        return await self.read_until(lambda body: False)

    def close(self) -> None:
        self.writer.close()


async def until(holds: Callable[[], bool], following: list[asyncio.Task]) -> None:
    """Until `holds()`; a followed stream that fails or ends meanwhile fails this at once."""
    async with asyncio.timeout(TIMEOUT):
        while not holds():
            for task in following:
                if task.done():
                    body = task.result()  # raises what failed it
                    raise AssertionError(f"a stream ended first, with {body.messages[-3:]}")
            await asyncio.sleep(0.05)


async def all_started(streams: list[RawStream], following: list[asyncio.Task]) -> None:
    await until(lambda: all(stream.is_started.is_set() for stream in streams), following)


def read_socket_to_end(sock: socket.socket, body: StreamBody) -> StreamBody:
    """A plain socket's stream read until it ends (blocking; run it in a thread)."""
    while not body.ended and (data := sock.recv(65536)):
        body.feed(data)
    return body


def check_events(body: StreamBody, expected: list[int], types: dict[int, str]) -> None:
    """The stream sent the events `expected` (their seqs), each once, in order, nothing else
    but comments, and ended; each message an event as the contract shows it."""
    assert body.ended, f"the stream did not end; last messages: {body.messages[-3:]}"
    assert "retry" in body.messages[0], body.messages[:2]
    ids = body.ids
    assert ids == expected, difference(ids, expected)
    for message in body.messages[1:]:
        if "comment" in message:
            continue
        assert set(message) == {"id", "event", "data"}, message
        document = json.loads(message["data"])
        seq = int(message["id"])
        assert document["seq"] == seq and message["event"] == document["event_type"] == types[seq]


def difference(got: list[int], expected: list[int]) -> str:
    """Where two seq lists part, said briefly (a thousand of them may fail at once)."""
    at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    at = min(len(got), len(expected)) if at is None else at
    return (
        f"got {len(got)} events, expected {len(expected)}; they part at index {at}: "
        f"got {got[max(0, at - 3) : at + 3]}, expected {expected[max(0, at - 3) : at + 3]}"
    )


def comments(body: StreamBody) -> set[str]:
    return {message["comment"] for message in body.messages if "comment" in message}


class Producer:
    """Appends to one session and remembers the last seq the server gave it."""

    def __init__(self, http: httpx.AsyncClient, session_id: str):
        self.http, self.session_id = http, session_id
        self.last_seq = 0

    async def append(self, *event_types: str, message: str | None = None) -> list[dict]:
        """The events appended, as the server stored them."""
        events = [{"event_type": t, "event_data": {"n": i}, "message": message} for i, t in
                  enumerate(event_types)]  # fmt: skip
        response = await self.http.post(
            f"{SESSIONS}/{self.session_id}/events", json={"events": events}, headers=WRITE
        )
        assert response.status_code == 201, response.text
        appended = response.json()["items"]
        self.last_seq = appended[-1]["seq"]
        return appended

    async def finish(self, status: str = "completed") -> int:
        """Moves the session to a terminal status; the seq of its status_changed event."""
        response = await self.http.patch(
            f"{SESSIONS}/{self.session_id}", json={"status": status}, headers=WRITE
        )
        assert response.status_code == 200, response.text
        self.last_seq = response.json()["event_count"]
        return self.last_seq


async def event_types(http: httpx.AsyncClient, session_id: str) -> dict[int, str]:
    """Every stored event's type by seq, read from the listing (the truth the streams are held
    to); its seqs run 1..N without a gap."""
    types, url = {}, f"{SESSIONS}/{session_id}/events?order=asc&per_page=100"
    while url:
        response = await http.get(url, headers=READ)
        assert response.status_code == 200, response.text
        types.update((event["seq"], event["event_type"]) for event in response.json()["items"])
        url = response.links.get("next", {}).get("url")
    assert list(types) == list(range(1, len(types) + 1))
    return types


async def new_session(http: httpx.AsyncClient) -> str:
    response = await http.post(SESSIONS, json={"session_type": "build"}, headers=WRITE)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def open_count(http: httpx.AsyncClient, kind: str) -> float:
    """The server's count of open requests of `kind` ("stream", "long_poll")."""
    metrics = (await http.get("/metrics")).text
    return float(re.search(rf'testboost_active_connections{{kind="{kind}"}} (\S+)', metrics)[1])
