"""GET /sessions/{session_id}/events/stream: the session's events as Server-Sent Events."""

from __future__ import annotations

import random
import uuid

import structlog

from session_events.app_state import database, notifier, request_header, state
from session_events.db import filters as db_filters
from session_events.db import pages as db_pages
from session_events.db import sessions as db_sessions
from session_events.db.errors import SessionNotFound, is_unavailable
from session_events.db.json_codec import loads
from session_events.db.statements import CoreRunner
from session_events.handlers.listing import read_filters
from session_events.handlers.sse import EventStream, sse_comment, sse_event
from session_events.handlers.waiting import Sleeper, Woke

log = structlog.get_logger("session_events")

RETRY_MS = 3000  # how long a browser waits before reconnecting
# Events read per query: at most BATCH, and about BATCH_BYTES of them once their size is known
# (the first read takes FIRST_BATCH), so a stream whose client reads slowly holds little.
BATCH, FIRST_BATCH, BATCH_BYTES = 500, 5, 1024 * 1024
OUTAGE_RETRY_SECONDS = 1.0  # how often a stream tries the database again while it is away
DELETED = sse_comment("the session was deleted")
WAITING_TEXT = "the database is out of reach; the stream goes on when it is back"
WAITING = sse_comment(WAITING_TEXT)


async def stream_events(session_id, **filters):
    """`filters`: the contract's filter parameters given, which db/filters.py declares (a new
    one needs no change here); the stream starts after `after_seq` or after Last-Event-ID."""
    session_id = uuid.UUID(session_id)
    filters = db_filters.requested(filters)
    last_event_id = request_header(b"last-event-id")
    cursor = int(last_event_id) if last_event_id is not None else filters.get("after_seq", 0)
    read_filters(filters)  # read once here, so that a refusal is a 400 before the stream starts
    async with database().read_direct() as runner:
        version = await db_pages.read_version(runner, session_id)
    if version is None:
        raise SessionNotFound(session_id)  # answered before the stream starts
    events = _events(
        session_id,
        version.created_at,
        cursor,
        filters,
        state().stream_heartbeat_seconds,
    )
    return EventStream(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(
    session_id: uuid.UUID, created_at: str, cursor: int, filters: dict, heartbeat: float
):
    """Replay after `cursor`, then follow live; end after a terminal status has been sent, when
    the session is deleted (or deleted and made again: `created_at` is its identity), or when
    the client leaves.

    Watching starts before the first read, and every read starts at the cursor (the highest seq
    already covered), so nothing is lost or sent twice between replay and live. While the
    database is out of reach the stream stays open, says so in a comment, and tries again.
    """
    yield b"retry: %d\n\n" % RETRY_MS
    waiters = notifier()
    with waiters.watch(session_id, "stream") as woken, Sleeper(woken, waiters.closing) as sleeper:
        waiting = False  # for the database: said once in the log, in the stream at every try
        batch = FIRST_BATCH
        while True:
            try:
                session, page = await _read(session_id, cursor, filters, batch)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                if not waiting:
                    log.warning("stream_waiting_for_database", error=type(error).__name__)
                waiting = True
                yield WAITING
                # Spread over a second on either side, so the streams do not all try at once.
                pause = OUTAGE_RETRY_SECONDS * (0.5 + random.random())
                if await sleeper.sleep(pause) in (Woke.GONE, Woke.CLOSING):
                    return
                continue
            waiting = False
            # The page's own reading of the session's identity: the row read before it may be
            # of the session deleted since, and the page of one made under its id.
            if page is None or page.version.created_at != created_at:
                yield DELETED
                return
            documents = loads(page.items) if page.count else []
            for document in documents:
                if sleeper.gone:
                    return
                yield sse_event(document)
            if page.count:
                batch = max(1, min(BATCH, BATCH_BYTES * page.count // len(page.items)))
            if page.more:  # more to replay: carry on from the last one sent
                cursor = documents[-1]["seq"]
                continue
            cursor = max(cursor, session["last_seq"])
            if session["status"] in db_sessions.TERMINAL:
                return
            # Quiet until an append wakes us: heartbeats only, no reads.
            while (woke := await sleeper.sleep(heartbeat)) is Woke.TIMEOUT:
                yield b": heartbeat\n\n"
            if woke is not Woke.WOKEN:  # the client left, or the server is stopping
                return


def _query(session_id: uuid.UUID, filters: dict, cursor: int, upto: int, limit: int):
    """The next `limit` events after the cursor up to `upto`, oldest first."""
    bounds = {db_filters.AFTER_SEQ.parameter: cursor, db_filters.UNTIL_SEQ.parameter: upto}
    return db_pages.ListingQuery(
        session_id,
        read_filters({**filters, **bounds}),
        ascending=True,
        offset=0,
        limit=limit,
        count_total=False,
    )


async def _read(session_id: uuid.UUID, cursor: int, filters: dict, limit: int):
    """The session row, and the next `limit` events after the cursor up to its counter."""
    async with database().read() as conn:
        session = await db_sessions.read_session(conn, session_id)
        if session is None:
            return None, None
        query = _query(session_id, filters, cursor, session["last_seq"], limit)
        return session, await db_pages.read_page(CoreRunner(conn), query)
