"""What one sessions stream sends of the changes it is given: the decision, per stream, between
`session_created`, `session_updated`, `session_deleted` and nothing; and the stream's cursors.

A cursor (an SSE `id`) is an instant in microseconds since the epoch, and it promises: every
change committed before it has been sent before or with this message. A resume from a cursor
re-reads every session changed (and every tombstone stamped) after the cursor minus
RESUME_MARGIN: a change is stamped (sessions.updated_at, the tombstone's deleted_at) a little
before it commits, and is seen by this process a little after (the notification's way; up to
the listener's health check when the listener dies without a word), so a change that commits
after a cursor was issued may carry an earlier stamp, by at most the margin. Changes are
therefore re-sent rather than lost, and clients apply them as upserts (the contract says so);
the per-stream check below drops the ones a stream already sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from session_events.handlers.shapes import session_json
from session_events.handlers.sse import sse_data

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Longer than a change takes from its stamp to its commit (a statement's lock wait is bounded by
# the statement timeout), plus a notification's delay, plus the listener's health check (5 s and
# its 5 s timeout) for a listener lost silently, plus clock skew between server hosts.
RESUME_MARGIN = timedelta(seconds=30)


def cursor_of(instant: datetime) -> int:
    return (instant - EPOCH) // MICROSECOND


def instant_of(cursor: int) -> datetime | None:
    """The instant of a cursor, or None for one beyond the dates this server can hold."""
    try:
        return EPOCH + cursor * MICROSECOND
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class Change:
    """A session as it is now (or its deletion), with its data encoded once for every stream."""

    id: uuid.UUID
    session_type: str
    status: str | None  # None: deleted
    created_at: datetime | None  # None: deleted
    version: int  # the session's event counter: every change moves it (status changes append)
    stamp: datetime  # when it changed: updated_at, or the tombstone's deleted_at
    data: bytes

    @classmethod
    def of_session(cls, row: Mapping[str, Any]) -> Change:
        return cls(
            row["id"],
            row["session_type"],
            row["status"],
            row["created_at"],
            row["last_seq"],
            row["updated_at"],
            sse_data(session_json(row)),
        )

    @classmethod
    def of_tombstone(cls, row: Mapping[str, Any]) -> Change:
        data = sse_data({"id": str(row["id"])})
        return cls(row["id"], row["session_type"], None, None, 0, row["deleted_at"], data)


@dataclass(frozen=True, slots=True)
class Filters:
    """GET /sessions/stream's filters: one status, any of several types (none: any)."""

    status: str | None
    session_types: frozenset[str]

    def of_type(self, change: Change) -> bool:
        return not self.session_types or change.session_type in self.session_types

    def of_status(self, change: Change) -> bool:
        return self.status is None or change.status == self.status


class Feed:
    """One stream's view of the sessions: which ones its client may hold, at which version.

    A session that matches is sent as created unless the client may hold it already; one that
    stops matching is sent once as updated, then forgotten. A resumed stream does not know what
    its client holds: any session made before the resume point may be held, until sent as gone.
    """

    def __init__(self, filters: Filters):
        self.filters = filters
        self.known: dict[uuid.UUID, tuple[datetime, int]] = {}  # id -> (created_at, version)
        self.resumed_at: datetime | None = None
        # Sessions made before the resume point that the client has been told to drop.
        self.forgotten: set[uuid.UUID] = set()

    def resume(self, at: datetime) -> None:
        self.resumed_at = at

    def sent(self, change: Change) -> None:
        """The client holds this session now (a snapshot's item)."""
        self.known[change.id] = (change.created_at, change.version)

    def _may_hold(self, change: Change) -> bool:
        if change.id in self.known:
            return True
        if self.resumed_at is None or change.id in self.forgotten:
            return False
        return change.created_at is None or change.created_at <= self.resumed_at

    def _drop(self, change: Change) -> None:
        self.known.pop(change.id, None)
        if self.resumed_at is not None and (
            change.created_at is None or change.created_at <= self.resumed_at
        ):
            self.forgotten.add(change.id)

    def decide(self, change: Change) -> str | None:
        """The event to send of this change, or None (not this stream's, or not news to it)."""
        if not self.filters.of_type(change):
            return None
        if change.status is None:
            held = self._may_hold(change)
            self._drop(change)
            return "session_deleted" if held else None
        known = self.known.get(change.id)
        if known is not None and known[0] == change.created_at and known[1] >= change.version:
            return None  # already sent at this version or a newer one
        held = self._may_hold(change)
        if self.filters.of_status(change):
            self.sent(change)
            return "session_updated" if held else "session_created"
        self._drop(change)
        return "session_updated" if held else None
