"""The sessions streams of one process share a hub: it learns from the notifier which sessions
changed, reads them once, encodes each once, and hands the changes to every stream.

The hub starts with the first sessions stream and stops when the last one leaves, so a process
nobody watches the sessions of does nothing. It follows every wake-up of the notifier (appends,
status changes, creations and deletions all notify) and collects the ids woken; it reads them in
one query at most every READ_INTERVAL, which also coalesces a busy session's progress into a few
updates a second. A wake_all (the PostgreSQL listener was lost, or is back) means notifications
may have been missed: the next read takes every session changed since the last cursor minus the
margin (handlers/sessions_feed.py says why), a scan, which is rare.

Each batch carries two cursors, `before` and `after` (handlers/sessions_feed.py says which
message carries which). While the database is out of reach the hub says so to every stream, and
tries again with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime

import structlog

from session_events.db import positions
from session_events.db import sessions as db_sessions
from session_events.db.engine import Database
from session_events.db.errors import is_unavailable
from session_events.db.notify import Notifier
from session_events.handlers.sessions_feed import (
    RESUME_MARGIN,
    Change,
    Feed,
    cursor_of,
    instant_of,
)
from session_events.handlers.sse import sse_comment, sse_message
from session_events.stream_outage import OUTAGE_RETRY_SECONDS, WAITING
from session_events.watcher import TOO_SLOW

log = structlog.get_logger("session_events")

READ_INTERVAL = 0.25  # seconds between two reads: progress comes a few times a second at most
IDS_PER_QUERY = 500
RESCAN_MAX = 10_000  # sessions a rescan reads; beyond, streams are asked to resume (snapshot)
MAX_BUFFERED_BATCHES = 1000  # per stream, while it reads its snapshot
SLOW = TOO_SLOW  # the events stream's words: one rule for a client that cannot keep up
LOST = sse_comment("too much changed while notifications were lost; reconnect to carry on")
FAILED = sse_comment("the server's reader of sessions failed; reconnect to carry on")


class Subscriber:
    """One stream's queue of bytes, fed by the hub, read by the stream."""

    def __init__(self, feed: Feed, queue_bytes: int):
        self.feed = feed
        self.queue_bytes = queue_bytes  # EVENTS_STREAM_QUEUE_BYTES, as for the events stream
        self.ready = asyncio.Event()  # something to take, or the stream has ended
        self.ended: bytes | None = None  # the comment it ends with
        self._chunks: deque[bytes] = deque()
        self._bytes = 0
        self._buffered: list[tuple[list[Change], int, int]] | None = []  # None once joined

    def offer(self, changes: list[Change], before: int, after: int) -> None:
        """A batch of changes read by the hub; kept until the stream has sent its first read."""
        if self.ended is not None:
            return
        if self._buffered is not None:
            self._buffered.append((changes, before, after))
            if len(self._buffered) > MAX_BUFFERED_BATCHES:
                self.end(SLOW)
            return
        chosen = [(event, change) for change in changes if (event := self.feed.decide(change))]
        for n, (event, change) in enumerate(chosen, start=1):
            self._push(sse_message(event, after if n == len(chosen) else before, change.data))

    def join(self) -> None:
        """The stream's first read is sent: the batches read meanwhile are decided now (those
        the first read already covers are dropped by the feed's versions)."""
        buffered, self._buffered = self._buffered or [], None
        for batch in buffered:
            self.offer(*batch)

    def comment(self, chunk: bytes) -> None:
        if self._buffered is None:  # before its first read, the stream speaks for itself
            self._push(chunk)

    def end(self, comment: bytes) -> None:
        self._chunks.clear()
        self.ended = comment
        self.ready.set()

    def take(self) -> list[bytes]:
        chunks, self._chunks, self._bytes = list(self._chunks), deque(), 0
        return chunks

    def _push(self, chunk: bytes) -> None:
        if self.ended is not None:
            return
        if self._bytes and self._bytes + len(chunk) > self.queue_bytes:
            return self.end(SLOW)  # an empty queue takes any one change, as a watcher does
        self._chunks.append(chunk)
        self._bytes += len(chunk)
        self.ready.set()


class SessionsHub:
    def __init__(self, database: Database, notifier: Notifier, queue_bytes: int):
        self._database = database
        self._queue_bytes = queue_bytes
        self._notifier = notifier
        self._subscribers: set[Subscriber] = set()
        self._dirty: set[uuid.UUID] = set()
        self._rescan = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._following: contextlib.AbstractContextManager | None = None
        self._cursor = 0  # the last batch's `after`: every change before it has been handed on

    @property
    def watchers(self) -> int:
        return len(self._subscribers)

    @contextlib.contextmanager
    def subscribe(self, feed: Feed) -> Iterator[Subscriber]:
        """A stream's subscription, made before its first read so that nothing falls between."""
        subscriber = Subscriber(feed, self._queue_bytes)
        self._subscribers.add(subscriber)
        if self._following is None:
            self._following = self._notifier.follow(self._told)
            self._following.__enter__()
            self._cursor = cursor_of(datetime.now(UTC))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sessions-hub")
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)
            self._wake.set()  # the hub stops if that was the last

    async def stop(self) -> None:
        """The app stops: wait for the hub to finish its read (its streams have ended)."""
        self._subscribers.clear()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 5)

    def _told(self, session_id: uuid.UUID | None) -> None:
        if session_id is None:
            self._rescan = True
        else:
            self._dirty.add(session_id)
        self._wake.set()

    async def _run(self) -> None:
        positions.detach()  # started by a request, it serves every sessions stream
        last_read = float("-inf")
        waiting = False
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(max(0.0, last_read + READ_INTERVAL - time.monotonic()))
                self._wake.clear()
                if not self._subscribers or self._notifier.closing.is_set():
                    return
                if not (self._dirty or self._rescan):
                    continue
                ids, self._dirty = self._dirty, set()
                rescan, self._rescan = self._rescan, False
                last_read = time.monotonic()
                after = cursor_of(datetime.now(UTC))
                try:
                    changes = await self._read(ids, rescan)
                except Exception as error:
                    self._dirty |= ids
                    self._rescan |= rescan
                    self._wake.set()
                    if not is_unavailable(error):
                        log.exception("sessions_hub_read_failed")
                    elif not waiting:
                        log.warning("sessions_hub_waiting_for_database", error=type(error).__name__)
                    waiting = True
                    for subscriber in list(self._subscribers):
                        subscriber.comment(WAITING)
                    await asyncio.sleep(OUTAGE_RETRY_SECONDS * (0.5 + random.random()))
                    continue
                waiting = False
                self._hand_on(changes, after)
        except Exception:
            log.exception("sessions_hub_failed")
            for subscriber in list(self._subscribers):  # rather than leave them waiting
                subscriber.end(FAILED)
        finally:
            self._task = None
            if self._following is not None:
                following, self._following = self._following, None
                following.__exit__(None, None, None)

    def _hand_on(self, changes: list[Change] | None, after: int) -> None:
        if changes is None:  # a rescan found more than it may hand on
            for subscriber in list(self._subscribers):
                subscriber.end(LOST)
        else:
            # A resume from the last cursor re-reads what a rescan reads (from the margin before
            # it), so the last cursor is `before` for both kinds of batch.
            for subscriber in list(self._subscribers):
                subscriber.offer(changes, self._cursor, after)
        self._cursor = after

    async def _read(self, ids: set[uuid.UUID], rescan: bool) -> list[Change] | None:
        """The changes of these sessions (and of every session changed since the margin before
        the cursor, on a rescan), oldest first; None if a rescan finds more than RESCAN_MAX."""
        found = await self._database.reading(
            lambda conn: self._rows(conn, ids, rescan), self._notifier.latest
        )
        if found is None:
            return None
        rows, gone = found
        changes = [Change.of_session(row) for row in rows]
        changes += [Change.of_tombstone(row) for row in gone]
        return sorted(changes, key=lambda change: change.stamp)

    async def _rows(self, conn, ids: set[uuid.UUID], rescan: bool) -> tuple[list, list] | None:
        """`_read`'s session rows and tombstones, as `conn` reads them."""
        rows, gone = [], []
        if rescan:
            since = instant_of(self._cursor) - RESUME_MARGIN
            rows, gone = await db_sessions.changed_since(conn, since, limit=RESCAN_MAX + 1)
            if len(rows) > RESCAN_MAX or len(gone) > RESCAN_MAX:
                return None
            ids = ids - {row["id"] for row in rows} - {row["id"] for row in gone}
        pending = list(ids)
        for start in range(0, len(pending), IDS_PER_QUERY):
            chunk = pending[start : start + IDS_PER_QUERY]
            found = await db_sessions.read_sessions(conn, chunk)
            rows += found
            missing = set(chunk) - {row["id"] for row in found}
            if missing:
                gone += await db_sessions.read_tombstones(conn, missing)
        return rows, gone
