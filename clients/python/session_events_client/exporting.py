"""export(): every event of a session that the filters keep, oldest first, as the server sends
them (its NDJSON export, `Accept: application/x-ndjson`), one snapshot however long it takes.

The snapshot is pinned first (the session's event count, as `until_seq`), so an export that
broke (the connection, a server restart, an export the server cut short) is opened again after
the last event yielded, through the same reconnect loop as follow() (resuming.py), and yields
each event once, in order, up to where it began.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from session_events_client.errors import refusal
from session_events_client.models import Event
from session_events_client.operations import get_session, query_value
from session_events_client.resuming import resumed
from session_events_client.steps import API, Retry, Send

MEDIA_TYPE = "application/x-ndjson"


def export(session_id: uuid.UUID | str, retry: Retry | None = None, **filters: Any):
    """`filters`: the listing's (since, event_type, step_id, q, after_seq, until_seq)."""
    session = yield from get_session(session_id, retry)
    until = filters.pop("until_seq", None)
    upto = session.event_count if until is None else min(int(until), session.event_count)
    stream = Export(session_id, filters, upto)
    response = yield from resumed(stream, retry)
    if response is not None:
        raise refusal(response)


class Export:
    """The export of one session (a `Resumable`), its cursor the last seq yielded."""

    lines = True

    def __init__(self, session_id, filters: dict[str, Any], upto: int):
        self.session_id, self.upto = session_id, upto
        self.cursor = int(filters.pop("after_seq", None) or 0)
        self.params = {name: query_value(v) for name, v in filters.items() if v is not None}
        self.what = f"the export of session {session_id}"

    def request(self) -> Send:
        return Send(
            "GET",
            f"{API}/sessions/{self.session_id}/events",
            params={**self.params, "after_seq": self.cursor, "until_seq": self.upto},
            headers={"Accept": MEDIA_TYPE},
        )

    def read(self, line: bytes) -> list[Event]:
        event = Event.model_validate_json(line)
        if event.seq <= self.cursor:
            return []
        self.cursor = event.seq
        return [event]

    def ended(self):
        """A body that ended by itself is the whole export."""
        return True
        yield  # a generator of no steps


def lines_in(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of a body read in chunks, without their newlines."""
    rest = b""
    for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\n")
        yield from lines
    if rest:
        yield rest


async def alines_in(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """lines_in, of a body read asynchronously."""
    rest = b""
    async for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\n")
        for line in lines:
            yield line
    if rest:
        yield rest
