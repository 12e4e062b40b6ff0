"""A hub per watched session in this process: one database read per append, whatever the
number of watchers, and the same bytes written to each of them.

A hub starts with its session's first watcher and goes with its last. It registers for the
session's wake-ups (db/notify.py) before its first read, which sets its cursor to the
session's counter; every wake-up after that reads the events past the cursor once, encodes
each once as its SSE bytes, and offers them to every watcher (session_events/watcher.py),
which keeps those its `event_type` filter asks for. A watcher is admitted at the hub's cursor:
what follows comes from the hub, what comes before it reads itself (a stream's replay), so
nothing is lost or sent twice however appends race with the join.

The hub also ends its watchers: after a terminal status (once everything up to it is offered),
when the session is deleted or made again under its id, and when the server stops. While the
database is out of reach it says so to its streams, tries again with a growing pause, and
delivers what was appended once it is back. Heartbeats are the hub's too: one timer for all.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING

import structlog

from session_events.db import filters as db_filters
from session_events.db import lagging, pages_in_memory, positions
from session_events.db import pages as db_pages
from session_events.db import sessions as db_sessions
from session_events.db.documents import format_timestamp
from session_events.db.errors import is_unavailable
from session_events.db.json_codec import dumps, loads
from session_events.db.positions import PRIMARY
from session_events.handlers.sse import sse_comment, sse_event
from session_events.stream_outage import OUTAGE_RETRY_MAX, OUTAGE_RETRY_SECONDS, WAITING
from session_events.watcher import SLOW, WRITTEN, StampedEvent, Watcher

if TYPE_CHECKING:
    from session_events.hubs import Hubs

log = structlog.get_logger("session_events")

BATCH = 500  # events read per statement when a hub catches up
# The newest events a hub holds for long-polls: at most this many, of about this many bytes.
HELD_EVENTS, HELD_BYTES = 1000, 4 * 1024 * 1024
DELETED = sse_comment("the session was deleted")
HEARTBEAT = b": heartbeat\n\n"


class SessionHub:
    def __init__(self, hubs: Hubs, session_id: uuid.UUID):
        self.hubs = hubs
        self.session_id = session_id
        self.watchers: set[Watcher] = set()
        self.cursor: int | None = None  # the highest seq offered; None before the first read
        self.identity: str | None = None  # the session's created_at: a session made again differs
        self.finished = False  # its status is terminal (and everything up to it was offered)
        self.woken = StampedEvent()
        # The newest events, every one after `held_after` up to the cursor, as documents.
        self.held: deque[tuple[int, dict, str]] = deque()
        self.held_after = 0
        self.held_bytes = 0
        self.task = asyncio.create_task(self.run(), name=f"hub-{session_id}")

    def add(self, watcher: Watcher) -> None:
        self.watchers.add(watcher)
        if self.cursor is not None:
            self.admit(watcher)

    def admit(self, watcher: Watcher, waited: bool = False) -> None:
        """Take the watcher in at the cursor; one that `waited` for the first read may have
        missed an append (a long-poll that read before it): it looks again."""
        watcher.admit(self.cursor)
        if self.finished and watcher.limit:
            watcher.end()
        elif waited and not watcher.limit:
            watcher.nudge()

    def remove(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        if not self.watchers and self.hubs.hubs.get(self.session_id) is self:
            # An idle session costs nothing: its hub goes (its task ends at its next turn).
            del self.hubs.hubs[self.session_id]
            self.woken.set()

    def detach(self) -> None:
        if self.hubs.hubs.get(self.session_id) is self:
            del self.hubs.hubs[self.session_id]

    async def run(self) -> None:
        positions.detach()  # started by a request, it serves every watcher of the session
        with self.hubs.notifier.watch(self.session_id, "hub", event=self.woken):
            failures = 0
            woke, stamp = True, None
            while self.watchers:
                if not woke:  # quiet: a heartbeat went out, nothing is read
                    woke, stamp = await self.sleep(self.hubs.heartbeat)
                    continue
                try:
                    ended = await self.read(stamp)
                except Exception as error:
                    if not is_unavailable(error):
                        log.exception("hub_failed", session_id=str(self.session_id))
                        return self.end_all(b"")
                    if not failures:
                        log.warning("stream_waiting_for_database", error=type(error).__name__)
                    failures += 1
                    await self.wait_out(failures)
                    continue
                failures = 0
                if ended:
                    return
                woke, stamp = await self.sleep(self.hubs.heartbeat)

    async def sleep(self, seconds: float) -> tuple[bool, float | None]:
        """Until woken (True, and the commit's time), or `seconds` (False, and a heartbeat)."""
        try:
            await asyncio.wait_for(self.woken.wait(), seconds)
        except TimeoutError:
            if self.watchers:
                self.say(HEARTBEAT)
            return False, None
        return True, self.woken.take()

    def news(self) -> int:
        """The position a read must see to hold the session's latest wake-up (replicas)."""
        return self.hubs.notifier.position_of(self.session_id)

    async def wait_out(self, failures: int) -> None:
        """The pause before the next try: growing with the failures in a row, spread so that
        the hubs of many sessions do not all try at once, said to the streams once a second."""
        pause = min(OUTAGE_RETRY_SECONDS * 2 ** (failures - 1), OUTAGE_RETRY_MAX)
        left = pause * (0.5 + random.random())
        while self.watchers:
            self.say(WAITING)
            await asyncio.sleep(min(left, OUTAGE_RETRY_SECONDS))
            left -= OUTAGE_RETRY_SECONDS
            if left <= 0:
                return

    async def read(self, stamp: float | None) -> bool:
        """Offer what was appended since the cursor; True if the session is gone. After the
        first, a read is one statement: the page after the cursor, with the session's counter
        and identity (a status change is an event, so the page tells of it too)."""
        if self.cursor is None:
            return await self.first_read()
        return await self.read_at(stamp, self.news())

    async def read_at(self, stamp: float | None, after: int) -> bool:
        """`read` where position `after` is seen; the session gone there is believed only
        from the primary (a replica may not have replayed it made again, say)."""
        async with self.hubs.database.read_direct(after) as runner:
            while True:
                query = db_pages.events_between(self.session_id, {}, self.cursor, None, BATCH)
                page = await db_pages.read_page(runner, query)
                if page is None or page.version.created_at != self.identity:
                    if self.hubs.database.replicas is not None and after < PRIMARY:
                        break
                    self.end_all(DELETED)
                    return True
                if not page.count:
                    return False
                documents = loads(page.items)
                self.offer(documents, stamp, await self.finished_at(documents))
                self.cursor = documents[-1]["seq"]
                if not page.more:
                    return False
        return await self.read_at(stamp, PRIMARY)

    async def finished_at(self, documents: list[dict]) -> int | None:
        """Where in `documents` the session reached its terminal status (the index after the
        last event that says so), if it has; the session's row is read only when one says so."""
        ends = [n for n, document in enumerate(documents) if db_sessions.may_end_session(document)]
        if not ends or self.finished:
            return None
        # The primary's word: a replica behind the one (or the primary) that gave `documents`
        # would deny it, and nothing appended after a finish wakes the hub to look again.
        async with self.hubs.database.read() as conn:
            finished = await db_sessions.is_finished(conn, self.session_id)
        return ends[-1] + 1 if finished else None

    async def first_read(self) -> bool:
        """Where the hub starts: the session's counter; and whether it is finished already."""

        async def read_session(conn):
            return await db_sessions.read_session(conn, self.session_id)

        def read(after: int):
            return self.hubs.database.reading(read_session, after)

        session = await lagging.found(self.hubs.database, read, self.news())
        if session is None:
            self.end_all(DELETED)
            return True
        self.identity = format_timestamp(session["created_at"])
        self.cursor = self.held_after = session["last_seq"]
        self.finished = session["status"] in db_sessions.TERMINAL
        for watcher in list(self.watchers):
            self.admit(watcher, waited=True)
        return False

    def offer(self, documents: list[dict], stamp: float | None, finished_at: int | None):
        """Offer the events; streams end after the terminal status change at `finished_at`
        (long-polls may still see appends after it)."""
        if finished_at is None:
            return self.offer_all(documents, stamp)
        self.offer_all(documents[:finished_at], stamp)
        self.finished = True
        for watcher in list(self.watchers):
            if watcher.limit:
                watcher.end()
        self.offer_all(documents[finished_at:], stamp)

    def offer_all(self, documents: list[dict], stamp: float | None) -> None:
        """The same bytes to every watcher that keeps them all; a filtered watcher's bytes
        are joined once per filter."""
        if not documents:
            return
        encoded = []
        for document in documents:
            text = dumps(document)
            seq = document["seq"]
            encoded.append((seq, document, sse_event(document, text)))
            self.hold(seq, document, text.decode())
        first = encoded[0][0]
        whole = b"".join(chunk for _, _, chunk in encoded)
        by_filter: dict[frozenset[str], bytes] = {}
        for watcher in list(self.watchers):
            if watcher.start is None:
                continue
            if watcher.after >= first:  # it already has some of these
                data = _kept(encoded, watcher.types, watcher.after)
            elif watcher.types is None:
                data = whole
            else:
                data = by_filter.get(watcher.types)
                if data is None:
                    data = by_filter[watcher.types] = _kept(encoded, watcher.types, 0)
            if data:
                self.offered(watcher.offer(data, stamp), stamp)
            watcher.after = max(watcher.after, encoded[-1][0])

    def hold(self, seq: int, document: dict, text: str) -> None:
        """Keeps the event for long-polls: its text, and of its document only what the
        in-memory filters read (its event_data may be far larger parsed than as text)."""
        held = self.held
        fields = {name: document[name] for name in db_filters.IN_MEMORY_FIELDS}
        held.append((seq, fields, text))
        self.held_bytes += _held_size(fields, text)
        while len(held) > HELD_EVENTS or (self.held_bytes > HELD_BYTES and len(held) > 1):
            self.held_after, dropped_fields, dropped = held.popleft()
            self.held_bytes -= _held_size(dropped_fields, dropped)

    def holding(self) -> pages_in_memory.Held | None:
        """What a long-poll may be answered from: the events held, as of the last read."""
        if (
            self.cursor is None
            or self.identity is None
            or self.hubs.hubs.get(self.session_id) is not self
        ):
            return None
        return pages_in_memory.Held(
            db_pages.Version(self.cursor, self.identity), self.held_after, self.held
        )

    def offered(self, outcome: int, stamp: float | None) -> None:
        if outcome == WRITTEN:
            if stamp is not None:
                self.hubs.delivered(time.monotonic() - stamp)
        elif outcome == SLOW:
            self.hubs.ended_slow()

    def say(self, comment: bytes) -> None:
        """A comment to every stream (not to long-polls, which it would wake for nothing)."""
        for watcher in list(self.watchers):
            if watcher.limit:
                self.offered(watcher.offer(comment, None), None)

    def end_all(self, last: bytes) -> None:
        self.detach()
        for watcher in list(self.watchers):
            watcher.end(last)


def _kept(encoded: list[tuple[int, dict, bytes]], types: frozenset[str] | None, after: int):
    """The events after `after` that a stream's `event_type` filter keeps (as it declares)."""
    kept = (lambda _document: True) if types is None else db_filters.EVENT_TYPE.in_memory(types)
    return b"".join(chunk for seq, document, chunk in encoded if seq > after and kept(document))


def _held_size(fields: dict, text: str) -> int:
    """What holding an event costs, as HELD_BYTES counts it: its text and its message again."""
    return len(text) + len(fields["message"] or "")
