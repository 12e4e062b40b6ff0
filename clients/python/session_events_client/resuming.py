"""A stream read as it arrives and opened again, from its cursor, after it broke or the server
went away: the one reconnect loop of follow(), follow_sessions() and export().

A stream read with a session token that ends with `event: auth_expired` raises AuthExpired: the
access is over, so it is not opened again (nor is one refused with a 401 or 403).

What differs between the streams (the request, what a message yields, whether a stream that ended
by itself is done) is a `Resumable`; the loop, its pauses and its give-up are written once here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

import httpx
from httpx_sse import ServerSentEvent

from session_events_client.errors import auth_expired
from session_events_client.steps import (
    RETRIED,
    RETRIED_STATUS,
    Backoff,
    CloseStream,
    Emit,
    NextMessage,
    OpenStream,
    Retry,
    Send,
    Sleep,
    Steps,
)

QUIET = 30  # seconds a stream may send nothing (it sends a heartbeat every 15 s) before a reconnect
SETTLED = 5  # seconds a stream stays open to count as a connection that worked


class Resumable(Protocol):
    """One kind of stream, and where the caller is in it."""

    what: str  # names the stream in the error raised when it cannot be resumed
    lines: bool  # its messages are the lines of an NDJSON body, not Server-Sent Events

    def request(self) -> Send:
        """The stream's request, resuming after what was read (a `Last-Event-ID`)."""

    def read(self, message: ServerSentEvent | bytes) -> Iterable[Any]:
        """What `message` gives the caller, the cursor moved past it."""

    def ended(self) -> Steps:
        """Steps returning True when a stream that ended by itself is not to be opened again."""


def resumed(stream: Resumable, retry: Retry | None) -> Steps:
    """Emits what `stream` reads, opening it again after it broke, ended by itself (and was not
    `ended()`) or met a 502, 503 or 504, pausing as `retry` says between attempts that got
    nowhere. Returns None once `ended()` said so, or the answer that refused the stream; raises
    ConnectionError once `retry` gives up, AuthExpired once the stream's token is no longer good."""
    backoff = Backoff(retry)
    while True:
        response, delivered, opened = None, False, time.monotonic()
        try:
            response = yield OpenStream(stream.request(), stream.lines)
            if response.status_code == 200:
                while (message := (yield NextMessage())) is not None:
                    if ended := auth_expired(message):
                        raise ended
                    for item in stream.read(message):
                        delivered = True
                        yield Emit(item)
                yield CloseStream()
        except RETRIED:
            response = None  # it could not be opened, or it broke
        if refused(response):
            return response
        if response is not None and response.status_code == 200 and (yield from stream.ended()):
            return None
        if delivered or time.monotonic() - opened >= SETTLED:
            backoff.reset()
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if (pause := backoff.pause(retry_after)) is None:
            raise ConnectionError(f"{stream.what} could not be resumed")
        yield Sleep(pause)


def refused(response: httpx.Response | None) -> bool:
    """An answer that opening the stream again would not change."""
    return response is not None and response.status_code not in RETRIED_STATUS | {200}
