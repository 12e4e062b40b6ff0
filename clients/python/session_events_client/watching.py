"""follow_sessions(): the sessions a dashboard shows, then every change to them, as they happen.

It reads the sessions stream (`GET /sessions/stream`): a `Snapshot` first, then `Created`,
`Updated` and `Deleted`, each built from the contract's models and carrying its `cursor`. When
the stream breaks or the server restarts, it is opened again after the last message
(`Last-Event-ID`) by the loop follow() uses; a server that cannot resume that far sends a fresh
`Snapshot` whose `reason` says why. It never ends by itself: the caller stops iterating.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from httpx_sse import ServerSentEvent
from pydantic import BaseModel

from session_events_client.errors import refusal
from session_events_client.models import (
    Session,
    SessionDeleted,
    SessionSnapshot,
    SessionStreamEvent,
)
from session_events_client.operations import present
from session_events_client.resuming import QUIET, resumed
from session_events_client.steps import API, Retry, Send

LIMIT = 100  # the contract's default size of the first snapshot


@dataclass(frozen=True)
class Snapshot:
    """The matching sessions, newest first: they replace everything the caller holds. `reason`
    is None on a first connection, and says why when a resume could not be honoured."""

    sessions: list[Session]
    reason: str | None
    cursor: str  # send it back as follow_sessions(cursor=...) to resume after this message
    EVENT: ClassVar = SessionStreamEvent.snapshot

    def document(self) -> SessionSnapshot:
        return SessionSnapshot(items=self.sessions, reason=self.reason)


@dataclass(frozen=True)
class SessionChange:
    """A change that carries the whole session as it is now."""

    session: Session
    cursor: str

    def document(self) -> Session:
        return self.session


class Created(SessionChange):
    """A session that now matches: made, or one this stream had not sent before."""

    EVENT: ClassVar = SessionStreamEvent.session_created


class Updated(SessionChange):
    """A session whose status or progress changed (one that stopped matching comes once more);
    it may be one the caller has already: apply it as an upsert."""

    EVENT: ClassVar = SessionStreamEvent.session_updated


@dataclass(frozen=True)
class Deleted:
    """A session that was deleted."""

    id: uuid.UUID
    cursor: str
    EVENT: ClassVar = SessionStreamEvent.session_deleted

    def document(self) -> SessionDeleted:
        return SessionDeleted(id=self.id)


Change = Snapshot | Created | Updated | Deleted

# Each event of the stream: the model of its data (the contract's `x-data-schemas`, which
# tests/unit/test_client_watch.py holds this to) and the change it makes.
CHANGES: dict[SessionStreamEvent, tuple[type[BaseModel], Callable[[Any, str], Change]]] = {
    SessionStreamEvent.snapshot: (SessionSnapshot, lambda d, c: Snapshot(d.items, d.reason, c)),
    SessionStreamEvent.session_created: (Session, Created),
    SessionStreamEvent.session_updated: (Session, Updated),
    SessionStreamEvent.session_deleted: (SessionDeleted, lambda d, c: Deleted(d.id, c)),
}


def follow_sessions(
    status: str | None = None,
    session_types: Iterable[str] = (),
    limit: int = LIMIT,
    cursor: str | None = None,
    retry: Retry | None = None,
):
    """A `Snapshot` of the sessions (in `status`, of `session_types`; at most `limit`), then
    each change, for as long as the caller iterates; after `cursor` (a change's), if given."""
    stream = SessionChanges(status, list(session_types), limit, cursor)
    response = yield from resumed(stream, retry)
    raise refusal(response)  # it ends only when refused


class SessionChanges:
    """The sessions stream (a `Resumable`), its cursor the `id` of the last message read."""

    what = "the sessions stream"
    lines = False

    def __init__(self, status, session_types: list[str], limit: int, cursor: str | None):
        self.params = present(status=status, session_type=session_types or None, limit=limit)
        self.cursor = cursor

    def request(self) -> Send:
        resumed = {"Last-Event-ID": self.cursor} if self.cursor else {}
        headers = {"Accept": "text/event-stream", **resumed}
        return Send("GET", f"{API}/sessions/stream", self.params, headers=headers, timeout=QUIET)

    def read(self, message: ServerSentEvent) -> list[Change]:
        if message.id:
            self.cursor = message.id
        if message.event not in CHANGES or not message.data:
            return []  # the retry hint, or an event this client does not know yet
        model, change = CHANGES[SessionStreamEvent(message.event)]
        return [change(model.model_validate_json(message.data), self.cursor)]

    def ended(self):
        """A stream of all sessions has no end: one that ended is opened again."""
        yield from ()
        return False
