"""One watcher of a session's hub (session_events/hub.py): a stream's bounded queue of the bytes
it has still to write, or a long-poll waiting to be told that something it asked for is there.

The hub offers every watcher the same bytes; a watcher keeps what its filter asks for. A
stream whose client reads too slowly lets its queue grow; past its bound the queue is dropped
and the stream ends with TOO_SLOW after what it is writing, so the hub and the other watchers
never wait for it, and its client resumes with Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from session_events.handlers.sse import sse_comment

TOO_SLOW_TEXT = (
    "this client reads too slowly to keep up; the stream ends here, reconnect with "
    "Last-Event-ID to resume"
)


TOO_SLOW = sse_comment(TOO_SLOW_TEXT)
WRITTEN, QUEUED, SLOW = 1, 0, -1  # what became of an offer


class Watcher:
    """`types`: the event types it keeps (None: all); `after`: the seq up to which it has the
    events already (or reads them itself); `limit`: the bytes it may hold unwritten (a queue
    that is empty takes one offer of any size), 0 for a long-poll, which holds none."""

    __slots__ = (
        "after", "busy", "chunks", "direct", "gone", "last", "limit", "nudged", "queued", "stamp",
        "start", "types", "waiter",
    )  # fmt: skip

    def __init__(self, types: frozenset[str] | None, after: int, limit: int):
        self.types = types
        self.after = after
        self.limit = limit
        # The hub's cursor when it took this watcher in: what follows comes from the hub.
        self.start: int | None = None
        self.chunks: list[bytes] = []
        self.queued = 0
        # When the append behind the oldest unwritten bytes was committed (a monotonic time).
        self.stamp: float | None = None
        self.waiter: asyncio.Future | None = None
        self.last: bytes | None = None  # set once it is to end: written after what is queued
        self.gone = False  # its client has left, or the server is stopping
        self.nudged = False  # a long-poll offered something since it last looked
        # Writes bytes to the client at once (True) if it can: see http_protocol.write_body.
        self.direct: Callable[[bytes], bool] | None = None
        self.busy = False  # bytes taken from the queue are being written: nothing may overtake

    def offer(self, data: bytes, stamp: float | None) -> int:
        """Write `data` (already filtered for it) now if it can, else queue it: WRITTEN, QUEUED,
        or SLOW if this ended it for reading too slowly."""
        if self.last is not None:
            return QUEUED
        if self.limit == 0:  # a long-poll: it reads what it asked for itself
            self.nudge()
            return QUEUED
        if not self.queued and not self.busy and self.direct is not None and self.direct(data):
            return WRITTEN
        if self.queued and self.queued + len(data) > self.limit:
            self.chunks.clear()
            self.queued = 0
            self.end(TOO_SLOW)
            return SLOW
        self.chunks.append(data)
        self.queued += len(data)
        if self.stamp is None:
            self.stamp = stamp
        self._wake()
        return QUEUED

    def end(self, last: bytes = b"") -> None:
        """End it once what is queued is written, with `last` (a comment saying why) after."""
        if self.last is None:
            self.last = last
            self._wake()

    def leave(self) -> None:
        """Its client has left (or the server stops): it ends now, whatever is queued."""
        self.gone = True
        self.chunks.clear()
        self.queued = 0
        self.end()

    def admit(self, cursor: int) -> None:
        """The hub takes it in at its cursor: the events after `cursor` (and after what it has)
        are offered to it from now on."""
        self.start = cursor
        self.after = max(self.after, cursor)
        self._wake()

    async def changed(self) -> None:
        """Until something is queued, it is admitted or ended (at once if so already)."""
        if self.chunks or self.last is not None:
            return
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def take_queued(self) -> tuple[bytes, float | None] | None:
        """The bytes queued (all of them, as one) and when their oldest append committed."""
        if not self.chunks:
            return None
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        stamp, self.stamp = self.stamp, None
        self.chunks.clear()
        self.queued = 0
        return data, stamp

    async def take(self) -> tuple[bytes, float | None] | None:
        """The bytes to write next and when their oldest append committed; None once ended."""
        self.busy = False  # what the last take gave has been written
        while True:
            queued = self.take_queued()
            if queued is not None:
                self.busy = True
                return queued
            if self.last is not None:
                last, self.last = self.last, b""
                return (last, None) if last and not self.gone else None
            await self.changed()

    def nudge(self) -> None:
        """Tell a long-poll to read again."""
        self.nudged = True
        self._wake()

    async def wait(self, timeout: float) -> None:
        """A long-poll's sleep: until offered something (since it last looked), ended, or
        `timeout` seconds."""
        if self.nudged or self.last is not None:
            self.nudged = False
            return
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self.waiter = None
            self.nudged = False

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def delay_since(stamp: float | None, observe: Callable[[float], None]) -> None:
    """Observe the time from a commit to now (the bytes are with the socket)."""
    if stamp is not None:
        observe(time.monotonic() - stamp)


class StampedEvent(asyncio.Event):
    """A wake-up that remembers when it came: the commit the delay metric counts from."""

    at: float | None = None

    def set(self) -> None:
        if self.at is None:
            self.at = time.monotonic()
        super().set()

    def take(self) -> float | None:
        at, self.at = self.at, None
        self.clear()
        return at
