"""follow(): a session's events as they are appended, in order, each once, until it ends.

It reads the event stream and, when the stream breaks or the server restarts, opens it again
after the last event it yielded (`Last-Event-ID`), pausing as the client's Retry says between
attempts that got nowhere. Where the stream is refused by what stands between (a proxy's 405,
406 or 501), it long-polls the listing instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from httpx_sse import ServerSentEvent

from session_events_client.errors import refusal
from session_events_client.models import Event
from session_events_client.operations import LONGEST_WAIT, TERMINAL, get_session, list_events
from session_events_client.resuming import QUIET, resumed
from session_events_client.steps import API, Emit, Retry, Send, Sleep

FALLBACK = frozenset({405, 406, 501})  # a stream refused by what stands between: long-poll


def follow(
    session_id: uuid.UUID | str,
    after_seq: int = 0,
    event_types: Iterable[str] | None = None,
    retry: Retry | None = None,
):
    """Every event after `after_seq` (of `event_types`, if given), in order, each once; ends
    once the session has ended and all of it was yielded."""
    stream = SessionEvents(session_id, after_seq, list(event_types or []), retry)
    response = yield from resumed(stream, retry)
    if response is not None and response.status_code in FALLBACK:
        yield from poll(session_id, stream.cursor, stream.types, retry)
    elif response is not None:
        raise refusal(response)


class SessionEvents:
    """The event stream of one session (a `Resumable`), its cursor the last seq yielded."""

    lines = False

    def __init__(self, session_id, cursor: int, types: list[str], retry: Retry | None):
        self.session_id, self.cursor, self.types, self.retry = session_id, cursor, types, retry
        self.what = f"the stream of session {session_id}"

    def request(self) -> Send:
        return stream_request(self.session_id, self.cursor, self.types)

    def read(self, message: ServerSentEvent) -> list[Event]:
        if not (message.event and message.data):  # the retry hint
            return []
        event = Event.model_validate_json(message.data)
        if event.seq <= self.cursor:
            return []
        self.cursor = event.seq
        return [event]

    def ended(self):
        """It ended by itself: the session did, or the server is going away. Look which."""
        session = yield from get_session(self.session_id, self.retry)
        if session.status not in TERMINAL:
            return False
        self.cursor = yield from caught_up(self.session_id, self.cursor, self.types, self.retry)
        return True


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
    """The events after `cursor` there are now, page by page on the cursor; returns the last
    one's seq."""
    while True:
        page = yield from list_events(
            session_id, retry, **after(cursor, types), include_total=False
        )
        for event in page.items:
            cursor = event.seq
            yield Emit(event)
        if not page.pagination.has_next:
            return cursor


def after(cursor: int, types: list[str]) -> dict[str, Any]:
    """The listing's filters for what follows `cursor`, oldest first."""
    return {"after_seq": cursor, "order": "asc", "per_page": 100, "event_type": types or None}
