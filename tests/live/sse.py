"""A small Server-Sent Events client for the live tests (httpx streaming)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx


async def _lines(response: httpx.Response) -> AsyncIterator[str]:
    """Lines as the SSE format ends them: at CR, LF or CRLF only (not at U+2028 and the like)."""
    pending = ""
    async for text in response.aiter_text():
        pending += text
        while True:
            cut = min((i for i in (pending.find("\r"), pending.find("\n")) if i >= 0), default=-1)
            if cut < 0 or (pending[cut] == "\r" and cut + 1 == len(pending)):
                break  # no line end yet, or a CR that may be followed by LF
            end = cut + 2 if pending.startswith("\r\n", cut) else cut + 1
            yield pending[:cut]
            pending = pending[end:]
    if pending:
        yield pending


async def sse_messages(response: httpx.Response) -> AsyncIterator[dict]:
    """Each message of the stream as a dict of its fields; a comment line becomes {"comment": ...}.

    `data` is parsed as JSON. The iteration ends when the server closes the stream.
    """
    message: dict = {}
    async for line in _lines(response):
        if line == "":
            if message:
                yield message
            message = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            message[field] = json.loads(value) if field == "data" else value
    if message:
        yield message


class EventReader:
    """Reads a stream's events in several goes (a response's lines can be iterated only once)."""

    def __init__(self, response: httpx.Response):
        self._messages = sse_messages(response)

    async def read(self, *, count: int | None = None, until_seq: int | None = None) -> list[dict]:
        """The next events (messages with data): `count` of them, up to `until_seq`, or all."""
        events = []
        async for message in self._messages:
            if "data" in message:
                events.append(message)
                if count is not None and len(events) >= count:
                    break
                if until_seq is not None and message["data"]["seq"] >= until_seq:
                    break
        return events


async def read_events(
    response: httpx.Response, *, count: int | None = None, until_seq: int | None = None
) -> list[dict]:
    """The events of a stream read once: `count` of them, up to `until_seq`, or all."""
    return await EventReader(response).read(count=count, until_seq=until_seq)
