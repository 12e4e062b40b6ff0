"""GET /sessions/stream: the sessions as Server-Sent Events, a snapshot and then every change.

The stream subscribes to the process's sessions hub (handlers/sessions_hub.py) first, then
makes its first read: a snapshot, or with a Last-Event-ID the sessions changed since its cursor
(handlers/sessions_feed.py says why from the margin before it); what the hub read meanwhile is
decided after it, so nothing falls between the two and nothing older overwrites it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from session_events.app_state import database, notifier, request_header, state
from session_events.db import sessions as db_sessions
from session_events.db.session_filters import SessionFilters
from session_events.handlers.sessions_feed import (
    RESUME_MARGIN,
    Change,
    Feed,
    Filters,
    cursor_of,
    instant_of,
)
from session_events.handlers.sessions_hub import Subscriber
from session_events.handlers.sse import EventStream, sse_comment, sse_data, sse_message
from session_events.handlers.stream import RETRY_MS
from session_events.handlers.waiting import Sleeper, Woke
from session_events.stream_outage import WAITING, outage_pause

HEARTBEAT = sse_comment("heartbeat")
RESUME_MAX = 1000  # sessions a resume re-sends at most; beyond, a fresh snapshot is cheaper


async def stream_sessions(status=None, session_type=None, limit=100):
    filters = Filters(status, frozenset(session_type or ()))
    last_event_id = request_header(b"last-event-id")  # its pattern checked by the contract
    cursor = None if last_event_id is None else int(last_event_id)
    messages = _messages(Feed(filters), limit, cursor, state().stream_heartbeat_seconds)
    return EventStream(messages, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _messages(feed: Feed, limit: int, cursor: int | None, heartbeat: float):
    """retry, the first read (retried while the database is away), then the hub's changes and
    heartbeats until the client leaves, the server stops or the stream falls too far behind."""
    yield b"retry: %d\n\n" % RETRY_MS
    hub = state().sessions_hub
    with hub.subscribe(feed) as subscriber, Sleeper(subscriber.ready, notifier().closing) as sleep:
        waiting = False
        while True:
            try:
                first = await _first_read(feed, limit, cursor)
                break
            except Exception as error:
                pause = outage_pause(error, waiting)
                waiting = True
                yield WAITING
                if await sleep.sleep(pause) in (Woke.GONE, Woke.CLOSING):
                    return
        for chunk in first:
            yield chunk
        subscriber.join()
        async for chunk in _followed(subscriber, sleep, heartbeat):
            yield chunk


async def _followed(subscriber: Subscriber, sleep: Sleeper, heartbeat: float):
    while True:
        for chunk in subscriber.take():
            yield chunk
        if subscriber.ended is not None:
            yield subscriber.ended
            return
        woke = await sleep.sleep(heartbeat)
        if woke is Woke.TIMEOUT:
            yield HEARTBEAT
        elif woke is not Woke.WOKEN:
            return


async def _first_read(feed: Feed, limit: int, cursor: int | None) -> list[bytes]:
    """A resume from the cursor when it can be honoured, else a snapshot saying why not."""
    if cursor is None:
        return [await _snapshot(feed, limit, None)]
    now = datetime.now(UTC)
    resumed_at = instant_of(cursor)
    kept = timedelta(seconds=state().session_tombstone_seconds)
    if resumed_at is None or resumed_at > now + RESUME_MARGIN:
        reason = "The Last-Event-ID is not a cursor of this server; this is the current state."
        return [await _snapshot(feed, limit, reason)]
    if resumed_at - RESUME_MARGIN < now - kept:
        reason = (
            f"The Last-Event-ID is older than the {kept.total_seconds():g} seconds deletions "
            "are kept (EVENTS_SESSION_TOMBSTONE_SECONDS); this is the current state."
        )
        return [await _snapshot(feed, limit, reason)]
    rows, gone = await database().reading(
        lambda conn: db_sessions.changed_since(
            conn,
            resumed_at - RESUME_MARGIN,
            session_types=sorted(feed.filters.session_types),
            limit=RESUME_MAX + 1,
        ),
        notifier().latest,
    )
    if len(rows) > RESUME_MAX or len(gone) > RESUME_MAX:
        reason = (
            f"More than {RESUME_MAX} sessions changed since the Last-Event-ID; this is the "
            "current state."
        )
        return [await _snapshot(feed, limit, reason)]
    feed.resume(resumed_at, now)
    changes = sorted(
        [Change.of_session(row) for row in rows] + [Change.of_tombstone(row) for row in gone],
        key=lambda change: change.stamp,
    )
    chosen = [(event, change) for change in changes if (event := feed.decide(change))]
    after = cursor_of(now)
    return [
        sse_message(event, after if n == len(chosen) else cursor, change.data)
        for n, (event, change) in enumerate(chosen, start=1)
    ]


async def _snapshot(feed: Feed, limit: int, reason: str | None) -> bytes:
    """The matching sessions, newest first, as of now (the snapshot's cursor)."""
    now = datetime.now(UTC)
    chosen = SessionFilters(
        status=feed.filters.status, session_types=sorted(feed.filters.session_types)
    )
    rows = await database().reading(
        lambda conn: db_sessions.list_sessions(conn, chosen, limit=limit, offset=0),
        notifier().latest,
    )
    items = [Change.of_session(row) for row in rows]
    for item in items:
        feed.sent(item)
    data = b'{"items":[%s],"reason":%s}' % (
        b",".join(item.data for item in items),
        sse_data(reason),
    )
    return sse_message("snapshot", cursor_of(now), data)
