"""GET /sessions/{session_id}/events/stream: the session's events as Server-Sent Events."""

from __future__ import annotations

import uuid

from starlette.responses import StreamingResponse

from session_events.db import pages as db_pages
from session_events.db import sessions as db_sessions
from session_events.db.errors import SessionNotFound
from session_events.db.json_codec import loads
from session_events.db.statements import CoreRunner
from session_events.handlers.common import database, dumps, notifier, request_header, state
from session_events.handlers.waiting import Sleeper, Woke

RETRY_MS = 3000  # how long a browser waits before reconnecting
BATCH = 500  # events read per query while replaying


def sse_event(body: dict) -> bytes:
    """One event document as an SSE event."""
    # One line, as a data field must be; U+2028/U+2029 escaped too, for clients that split lines
    # the way JavaScript and Python's splitlines do (they only occur inside JSON strings).
    data = dumps(body).replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (body["seq"], body["event_type"].encode(), data)


async def stream_events(session_id, after_seq=0, event_type=None):
    session_id = uuid.UUID(session_id)
    last_event_id = request_header(b"last-event-id")
    cursor = int(last_event_id) if last_event_id is not None else after_seq
    event_types = tuple(dict.fromkeys(event_type or ()))
    async with database().read() as conn:
        if await db_sessions.read_session(conn, session_id) is None:
            raise SessionNotFound(session_id)  # answered before the stream starts
    events = _events(session_id, cursor, event_types, state().stream_heartbeat_seconds)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(session_id: uuid.UUID, cursor: int, event_types: tuple, heartbeat: float):
    """Replay after `cursor`, then follow live; end after a terminal status has been sent.

    Watching starts before the first read, and every read starts at the cursor (the highest seq
    already covered), so nothing is lost or sent twice between replay and live.
    """
    yield b"retry: %d\n\n" % RETRY_MS
    waiters = notifier()
    with waiters.watch(session_id, "stream") as woken, Sleeper(woken, waiters.closing) as sleeper:
        while True:
            async with database().read() as conn:
                session = await db_sessions.read_session(conn, session_id)
                if session is None:  # deleted while we streamed
                    return
                upper = session["last_seq"]
                page = await db_pages.read_page(
                    CoreRunner(conn), _batch(session_id, cursor, upper, event_types)
                )
            documents = loads(page.items) if page is not None and page.count else []
            for document in documents:
                yield sse_event(document)
            if page is not None and page.more:  # more to replay: carry on from the last one sent
                cursor = documents[-1]["seq"]
                continue
            cursor = max(cursor, upper)
            if session["status"] in db_sessions.TERMINAL:
                return
            # Quiet until an append wakes us: heartbeats only, no reads.
            while (woke := await sleeper.sleep(heartbeat)) is Woke.TIMEOUT:
                yield b": heartbeat\n\n"
            if woke is not Woke.WOKEN:  # the client left, or the server is stopping
                return


def _batch(session_id: uuid.UUID, cursor: int, upper: int, event_types: tuple):
    """The next events after the cursor, up to the counter read with the session."""
    return db_pages.ListingQuery(
        session_id=session_id,
        since=None,
        event_types=event_types,
        after_seq=cursor,
        until_seq=upper,
        ascending=True,
        offset=0,
        limit=BATCH,
        count_total=False,
    )
