"""Sleeping on a session's wake-ups without holding a database connection or a thread, and
without outliving the client."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Iterator

from session_events.app_state import current
from session_events.http_protocol import CLIENT_DONE
from session_events.watcher import Watcher


class Woke(enum.Enum):
    WOKEN = "woken"  # something was appended to the session (or the listener says: look again)
    TIMEOUT = "timeout"
    GONE = "gone"  # the client disconnected
    CLOSING = "closing"  # the server is shutting down


async def _client_gone(scope, receive) -> None:
    """Until the client leaves: its disconnect, or its end of sending where the server tells of
    it (a peer that closed its socket is seen at its EOF, not at the next write that fails)."""
    done = scope["extensions"].get(CLIENT_DONE)
    if done is not None and done["event"].is_set():
        return
    disconnect = asyncio.ensure_future(_disconnect(receive))
    if done is None:
        return await disconnect
    eof = asyncio.ensure_future(done["event"].wait())
    try:
        await asyncio.wait({disconnect, eof}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnect.cancel()
        eof.cancel()


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class Sleeper:
    """Sleeps until the session's `woken` event, a timeout, the client leaving or the server
    closing.

    The waits are tasks kept across sleeps, so a long-lived stream that mostly times out
    (heartbeats) does not create and cancel tasks every time. Use as a context manager.
    """

    def __init__(self, woken: asyncio.Event, closing: asyncio.Event):
        self._woken = woken
        self._wake: asyncio.Future | None = None
        request = current()
        self._gone = asyncio.ensure_future(_client_gone(request.scope, request.receive))
        self._closing = asyncio.ensure_future(closing.wait())

    @property
    def gone(self) -> bool:
        """Whether the client has left (checked between the pages of a replay)."""
        return self._gone.done()

    async def sleep(self, timeout: float) -> Woke:
        if self._closing.done():
            return Woke.CLOSING
        if self._gone.done():
            return Woke.GONE
        if timeout <= 0:
            return Woke.TIMEOUT
        if self._wake is None:
            self._wake = asyncio.ensure_future(self._woken.wait())
        done, _ = await asyncio.wait(
            {self._wake, self._gone, self._closing},
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._closing in done:
            return Woke.CLOSING
        if self._gone in done:
            return Woke.GONE
        if self._wake in done:
            self._wake = None
            self._woken.clear()
            return Woke.WOKEN
        return Woke.TIMEOUT

    def __enter__(self) -> Sleeper:
        return self

    def __exit__(self, *_exc) -> None:
        for task in (self._wake, self._gone, self._closing):
            if task is not None:
                task.cancel()


@contextlib.contextmanager
def leaving_with_client(watcher: Watcher) -> Iterator[None]:
    """The watcher leaves its hub when the client leaves: told by the server's protocol where it
    can (no task per request), else by a task that waits on the request's receive channel."""
    request = current()
    done = request.scope["extensions"].get(CLIENT_DONE)
    if done is not None and hasattr(done["event"], "on_set"):
        done["event"].on_set(watcher.leave)
        try:
            yield
        finally:
            done["event"].off(watcher.leave)
        return
    task = asyncio.ensure_future(_client_gone(request.scope, request.receive))
    task.add_done_callback(lambda _task: watcher.leave())
    try:
        yield
    finally:
        task.cancel()
