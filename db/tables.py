"""The tables and every index the queries rely on, declared together."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """timestamptz on PostgreSQL; on SQLite a fixed-width UTC text that sorts like the instant.

    Values go in and come out as aware datetimes in UTC, with microseconds.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        # SQLite's DateTime writes the fields as they are: in UTC, they are the fixed-width text.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# `json`, not `jsonb`, on PostgreSQL: documents are stored and returned verbatim (key order kept)
# and may hold \u0000, which jsonb refuses. Nothing queries inside them.
JSONDocument = JSON()


def _session_key() -> Column:
    """A session's rows are keyed by its id first, and go when it goes."""
    return Column(
        "session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )


sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_type", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("project_path", Text, nullable=True),
    Column("config", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The session's event counter: the seq of its newest event, so the unfiltered total is one read.
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_event_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),  # set on reaching a terminal status
    # The message of the newest event that has one, set by every append (a dashboard row's line).
    Column("last_message", Text, nullable=True),
    # GET /sessions: newest first, optionally of one status.
    Index("ix_sessions_created_at", "created_at", "id"),
    Index("ix_sessions_status_created_at", "status", "created_at", "id"),
)

events = Table(
    "events",
    metadata,
    _session_key(),
    # 1, 2, 3, ... within a session, no gaps; the primary key walks a session in either order.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", Uuid, nullable=False),
    Column("step_id", Uuid, nullable=True),
    Column("event_type", String(100), nullable=False),
    Column("event_data", JSONDocument, nullable=False),
    Column("message", Text, nullable=True),
    Column("timestamp", UTCDateTime, nullable=False),
    # Event ids are unique over all sessions (a retry is recognised by its id).
    Index("ux_events_id", "id", unique=True),
    # event_type filters: count and page one type within a seq range.
    Index("ix_events_session_type_seq", "session_id", "event_type", "seq"),
    # since: the newest event at or before an instant.
    Index("ix_events_session_timestamp", "session_id", "timestamp"),
)

# Each session's number of events of each type, kept by appends in their transaction: the total
# of a filtered listing over the whole session is a lookup (PostgreSQL's hot path reads it).
event_type_counts = Table(
    "event_type_counts",
    metadata,
    _session_key(),
    Column("event_type", String(100), primary_key=True),
    Column("events", BigInteger, nullable=False),
)

# Deleted sessions, kept a while (EVENTS_SESSION_TOMBSTONE_SECONDS) so that the sessions stream
# can tell a client resuming with Last-Event-ID which sessions went while it was away.
session_tombstones = Table(
    "session_tombstones",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_type", String(100), nullable=False),
    Column("deleted_at", UTCDateTime, nullable=False),
    # Resume reads and pruning by age; written only by deletions, so appends never pay for it.
    Index("ix_session_tombstones_deleted_at", "deleted_at"),
)

# The session tokens minted (never the tokens themselves: they are signed, not stored), so that
# they can be revoked; a token goes with its session. Rows past their expiry are pruned.
session_tokens = Table(
    "session_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # The token it was minted with, if any: revoked with it.
    Column("minted_by", Uuid, nullable=True),
    # Revoking all of a session's tokens.
    Index("ix_session_tokens_session_id", "session_id"),
    # Pruning the expired.
    Index("ix_session_tokens_expires_at", "expires_at"),
)
