"""follow(): a session's events as they are appended, in order, each once, until it ends.

It reads the event stream and, when the stream breaks or the server restarts, opens it again
after the last event it yielded (`Last-Event-ID`), pausing as the client's Retry says between
attempts that got nowhere. Where the stream is refused by what stands between (a proxy's 405,
406 or 501), it long-polls the listing instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from session_events_client.errors import refusal
from session_events_client.models import Event
from session_events_client.operations import LONGEST_WAIT, TERMINAL, get_session, list_events
from session_events_client.steps import (
    API,
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
)

QUIET = 30  # seconds a stream may send nothing (it sends a heartbeat every 15 s) before a reconnect
FALLBACK = frozenset({405, 406, 501})  # a stream refused by what stands between: long-poll
SETTLED = 5  # seconds a stream stays open to count as a connection that worked


def follow(
    session_id: uuid.UUID | str,
    after_seq: int = 0,
    event_types: Iterable[str] | None = None,
    retry: Retry | None = None,
):
    """Every event after `after_seq` (of `event_types`, if given), in order, each once; ends
    once the session has ended and all of it was yielded."""
    cursor, types = after_seq, list(event_types or [])
    backoff = Backoff(retry)
    while True:
        response, delivered, opened = None, False, time.monotonic()
        try:
            response = yield OpenStream(stream_request(session_id, cursor, types))
            if response.status_code == 200:
                while (message := (yield NextMessage())) is not None:
                    if message.event and message.data:  # not the retry hint
                        event = Event.model_validate_json(message.data)
                        if event.seq > cursor:
                            cursor, delivered = event.seq, True
                            yield Emit(event)
                yield CloseStream()
        except RETRIED:
            response = None  # it could not be opened, or it broke
        if response is not None and response.status_code in FALLBACK:
            yield from poll(session_id, cursor, types, retry)
            return
        if response is not None and response.status_code not in RETRIED_STATUS | {200}:
            raise refusal(response)
        if response is not None and response.status_code == 200:
            # It ended by itself: the session did, or the server is going away. Look which.
            session = yield from get_session(session_id, retry)
            if session.status in TERMINAL:
                yield from caught_up(session_id, cursor, types, retry)
                return
        if delivered or time.monotonic() - opened >= SETTLED:
            backoff.reset()
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if (pause := backoff.pause(retry_after)) is None:
            raise ConnectionError(f"the stream of session {session_id} could not be resumed")
        yield Sleep(pause)


def stream_request(session_id, cursor: int, types: list[str]) -> Send:
    resumed = {"Last-Event-ID": str(cursor)} if cursor else {}  # wins over after_seq
    return Send(
        "GET",
        f"{API}/sessions/{session_id}/events/stream",
        params={"after_seq": cursor, **({"event_type": types} if types else {})},
        headers={"Accept": "text/event-stream", **resumed},
        timeout=QUIET,
    )


def poll(session_id, cursor: int, types: list[str], retry: Retry | None):
    """follow() by long-polling the listing."""
    while True:
        page = yield from list_events(
            session_id, retry, **after(cursor, types), include_total=False, wait=LONGEST_WAIT
        )
        for event in page.items:
            cursor = event.seq
            yield Emit(event)
        if not page.pagination.has_next:
            session = yield from get_session(session_id, retry)
            if session.status in TERMINAL:
                yield from caught_up(session_id, cursor, types, retry)
                return
        if not page.items:
            yield Sleep(0.5)  # answered at once without events: a server going away


def caught_up(session_id, cursor: int, types: list[str], retry: Retry | None):
    """The events after `cursor` there are now, page by page on the cursor."""
    while True:
        page = yield from list_events(
            session_id, retry, **after(cursor, types), include_total=False
        )
        for event in page.items:
            cursor = event.seq
            yield Emit(event)
        if not page.pagination.has_next:
            return


def after(cursor: int, types: list[str]) -> dict[str, Any]:
    """The listing's filters for what follows `cursor`, oldest first."""
    return {"after_seq": cursor, "order": "asc", "per_page": 100, "event_type": types or None}
