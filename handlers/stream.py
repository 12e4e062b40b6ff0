"""GET /sessions/{session_id}/events/stream: the session's events as Server-Sent Events.

A stream is a watcher of its session's hub (session_events/hub.py): admitted at the hub's
cursor, it replays what comes before it on its own, page by page, then writes what the hub
offers it.
"""

from __future__ import annotations

import asyncio
import uuid

from session_events.app_state import current, database, hubs, notifier, request_header, state
from session_events.db import filters as db_filters
from session_events.db import lagging
from session_events.db import pages as db_pages
from session_events.db.errors import SessionNotFound
from session_events.db.json_codec import loads
from session_events.handlers.listing import read_filters
from session_events.handlers.sse import EventStream, auth_expired, sse_event
from session_events.handlers.waiting import leaving_with_client
from session_events.http_protocol import BODY_WRITER
from session_events.hub import DELETED
from session_events.security import grant
from session_events.stream_outage import WAITING, outage_pause
from session_events.watcher import Watcher, delay_since

RETRY_MS = 3000  # how long a browser waits before reconnecting
# Events read per query of a replay: at most BATCH, and about BATCH_BYTES of them once their
# size is known (the first read takes FIRST_BATCH), so a stream whose client reads slowly
# holds little.
BATCH, FIRST_BATCH, BATCH_BYTES = 500, 5, 1024 * 1024


async def stream_events(session_id, **filters):
    """`filters`: the contract's filter parameters given, which db/filters.py declares (a new
    one needs no change here); the stream starts after `after_seq` or after Last-Event-ID."""
    session_id = uuid.UUID(session_id)
    filters = db_filters.requested(filters)
    last_event_id = request_header(b"last-event-id")
    cursor = int(last_event_id) if last_event_id is not None else filters.get("after_seq", 0)
    read_filters(filters)  # read once here, so that a refusal is a 400 before the stream starts

    async def read(after: int):
        async with database().read_direct(after) as runner:
            return await db_pages.read_version(runner, session_id)

    version = await lagging.found(database(), read)
    if version is None:
        raise SessionNotFound(session_id)  # answered before the stream starts
    events = _events(session_id, version.created_at, cursor, filters, grant())
    return EventStream(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(session_id: uuid.UUID, created_at: str, cursor: int, filters: dict, granted):
    """Join the hub, replay up to where it took the stream in, then write what it offers;
    end when the hub ends the stream (terminal status, deletion, too slow a client, the
    server stopping), the client leaves, or the token it was opened with lapses."""
    yield b"retry: %d\n\n" % RETRY_MS
    live = hubs()
    types = filters.get(db_filters.EVENT_TYPE.parameter)
    watcher = Watcher(None if types is None else frozenset(types), cursor, live.queue_bytes)
    hub = live.join(session_id, watcher)
    lapsed: list[str] = []  # why its token lapsed, once it has

    def lapse(detail: str) -> None:
        lapsed.append(detail)
        watcher.leave()  # nothing more is written but the news

    unwatch = state().revocations.watch(granted, lapse) if granted.is_token else None
    try:
        with leaving_with_client(watcher):
            while watcher.start is None and watcher.last is None:  # the hub's first read
                queued = watcher.take_queued()
                if queued is None:
                    await watcher.changed()
                else:  # what it says meanwhile (that it waits for the database, say)
                    yield queued[0]
            if hub.identity not in (None, created_at):  # deleted and made again meanwhile
                yield DELETED
                return
            if watcher.start is not None and cursor < watcher.start:
                async for chunk in _replay(session_id, created_at, cursor, watcher, filters):
                    if chunk is DELETED:
                        yield chunk
                        return
                    yield chunk
            # Live: the hub writes to the client itself while nothing is queued.
            watcher.direct = direct_writer()
            while (item := await watcher.take()) is not None:
                data, stamp = item
                yield data
                delay_since(stamp, live.delivered)
            if lapsed:
                yield auth_expired(lapsed[0])
    finally:
        if unwatch:
            unwatch()
        hub.remove(watcher)


async def _replay(session_id, created_at: str, cursor: int, watcher: Watcher, filters: dict):
    """The events after `cursor` up to where the hub took the watcher in, read page by page;
    DELETED (then nothing more) if the session goes meanwhile. While the database is out of
    reach it says so and tries again."""
    batch, waiting = FIRST_BATCH, False
    while cursor < watcher.start and not watcher.gone:
        try:
            query = db_pages.events_between(session_id, filters, cursor, watcher.start, batch)
            news = notifier().position_of(session_id)
            page = await lagging.page_reaching(database(), query, watcher.start, news)
        except Exception as error:
            pause = outage_pause(error, waiting)
            waiting = True
            yield WAITING
            await asyncio.sleep(pause)
            continue
        waiting = False
        if page is None or page.version.created_at != created_at:
            yield DELETED
            return
        if not page.count:
            return
        documents = loads(page.items)
        for document in documents:
            if watcher.gone:
                return
            yield sse_event(document)
        batch = max(1, min(BATCH, BATCH_BYTES * page.count // len(page.items)))
        cursor = documents[-1]["seq"]
        if not page.more:
            return


def direct_writer():
    """How the server writes a chunk of this response at once (None if it cannot)."""
    writer = current().scope["extensions"].get(BODY_WRITER)
    return None if writer is None else writer["write"]
