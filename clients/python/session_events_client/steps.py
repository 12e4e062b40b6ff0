"""What an operation asks its driver to do, and the retry rule, written once for both drivers.

Every operation is a generator (operations.py) that yields steps and gets their results back: a
`Send` is answered with the httpx.Response (or has the transport error thrown in), a `Sleep` with
None, a stream's steps with its messages. `Client` runs the steps with httpx's blocking API and
`AsyncClient` with its async one, so every rule (retries, paging, long-poll, resuming a stream)
has one implementation, free of IO.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

API = "/api/v2"


@dataclass(frozen=True)
class Send:
    method: str
    path: str  # from the server's root: /api/v2/... (a Link header's URL as it is)
    params: Any = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # beyond the client's own, for a long-poll


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """An item an iterator yields to its caller (an event, say)."""

    item: Any


@dataclass(frozen=True)
class OpenStream:
    """Answered with the response once its headers arrived; its messages follow by NextMessage:
    Server-Sent Events, or with `lines` the lines of an NDJSON body."""

    request: Send
    lines: bool = False


@dataclass(frozen=True)
class NextMessage:
    """Answered with the stream's next httpx_sse.ServerSentEvent (or line, as bytes), or None
    once it ended."""


@dataclass(frozen=True)
class CloseStream:
    pass


Steps = Generator[Any, Any, Any]


class Stepper:
    """Runs an operation's steps for a driver: iterating gives each step, after sending the
    operation the `reply` (or throwing in the `error`) the driver left for the step before;
    `result` is the operation's value once it returned."""

    def __init__(self, steps: Steps):
        self.steps = steps
        self.reply: Any = None
        self.error: BaseException | None = None
        self.result: Any = None

    def __iter__(self):
        while True:
            reply, error = self.reply, self.error
            self.reply = self.error = None
            try:
                step = self.steps.throw(error) if error else self.steps.send(reply)
            except StopIteration as stop:
                self.result = stop.value
                return
            yield step

    @contextmanager
    def answering(self):
        """The step's transport failure, caught to be thrown into the operation."""
        try:
            yield
        except RETRIED as failure:
            self.error = failure


@dataclass(frozen=True)
class Retry:
    """How long a request that may be repeated is tried again: after a connection error, a
    timeout or a 503, for up to `seconds` in all, waiting `first` seconds, doubling to `longest`,
    or as long as the answer's Retry-After says."""

    seconds: float = 30.0
    first: float = 0.1
    longest: float = 2.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        told = seconds_of(retry_after)
        return told if told is not None else min(self.longest, self.first * 2**attempt)


def seconds_of(retry_after: str | None) -> float | None:
    """Retry-After as seconds: a number of them, or an HTTP date."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


RETRIED = (httpx.TransportError,)  # connection refused or reset, timeouts, broken reads
RETRIED_STATUS = frozenset({502, 503, 504})  # the server, or what stands before it, not ready


class Backoff:
    """The pauses between attempts that got nowhere, as `retry` says: None once its time, from
    the first of them, is up (or when there is no retry)."""

    def __init__(self, retry: Retry | None):
        self.retry = retry
        self.reset()

    def reset(self) -> None:
        self.attempt, self.since = 0, None

    def pause(self, retry_after: str | None = None) -> float | None:
        now = time.monotonic()
        self.since = self.since or now
        if self.retry is None or now - self.since >= self.retry.seconds:
            return None
        self.attempt += 1
        return self.retry.delay(self.attempt - 1, retry_after)


def sent(request: Send, retry: Retry | None) -> Generator[Any, Any, httpx.Response]:
    """The response to `request`; with `retry`, it is sent again while that allows."""
    backoff = Backoff(retry)
    while True:
        try:
            response = yield request
        except RETRIED:
            if (pause := backoff.pause()) is None:
                raise
        else:
            if response.status_code not in RETRIED_STATUS:
                return response
            if (pause := backoff.pause(response.headers.get("Retry-After"))) is None:
                return response
        yield Sleep(pause)
