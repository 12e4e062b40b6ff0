"""What the command prints for a person: events, sessions, a page of them, and what it did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from session_events_client.models import Event, Session, SessionPage, Token
from session_events_client.watching import Created, Deleted, Snapshot, Updated

COLUMNS = ("id", "status", "session_type", "event_count", "created_at", "project_path")


def local(when: datetime | None, timespec: str = "seconds") -> str:
    """An instant in local time with its zone; '-' for none."""
    return "-" if when is None else when.astimezone().isoformat(sep=" ", timespec=timespec)


def event_line(event: Event) -> str:
    """local time with its zone, seq, type, message"""
    when = local(event.timestamp, "milliseconds")
    return f"{when}  {event.seq:>6}  {event.event_type}  {event.message or ''}".rstrip()


def value(field: object) -> str:
    if field is None:
        return "-"
    if isinstance(field, datetime):
        return local(field)
    if isinstance(field, dict):
        return json.dumps(field, ensure_ascii=False)
    return str(field)


def session_lines(session: Session) -> list[str]:
    """Every field of the session, one a line, in the contract's order."""
    width = max(map(len, Session.model_fields))
    return [f"{name:<{width}}  {value(getattr(session, name))}" for name in Session.model_fields]


def page_lines(page: SessionPage, status: str | None) -> list[str]:
    """The page's sessions as a table, then where the page is among the others."""
    paging = page.pagination
    if paging.total == 0:
        return [none_are(status)]
    where = f"Page {paging.page} of {paging.total_pages}, {paging.total} session(s) in all"
    following = f"; --page {paging.page + 1} shows the next." if paging.has_next else "."
    return [*table(page.items), where + following]


def none_are(status: str | None) -> str:
    return f"No sessions{f' are {status}' if status else ''}."


def table(sessions: list[Session]) -> list[str]:
    """The sessions under a header, a row each, in columns."""
    rows = [COLUMNS] + [tuple(value(getattr(s, name)) for name in COLUMNS) for s in sessions]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    return ["  ".join(map(str.ljust, row, widths)).rstrip() for row in rows]


def snapshot_lines(snapshot: Snapshot, status: str | None) -> list[str]:
    """What `watch` shows first, and again when the server sends a fresh snapshot."""
    return table(snapshot.sessions) if snapshot.sessions else [none_are(status)]


def change_line(change: Created | Updated | Deleted) -> str:
    """local time of the change (of its sight, for a deletion), id, what changed, then the
    session's type, status and event count"""
    if isinstance(change, Deleted):
        return f"{local(datetime.now(UTC), 'milliseconds')}  {change.id}  deleted"
    session = change.session
    when = local(session.updated_at, "milliseconds")
    kind = "created" if isinstance(change, Created) else "updated"
    count = session.event_count
    return (
        f"{when}  {session.id}  {kind}  {session.session_type}  {session.status}  "
        f"{count} event{'' if count == 1 else 's'}"
    )


def stored(session_id: str, count: int, seq: int | None = None) -> str:
    """What emit did: one event with its seq, or how many of them."""
    if seq is not None:
        return f"Stored event {seq} in session {session_id}."
    return f"Stored {count} event{'' if count == 1 else 's'} in session {session_id}."


def deleted(session_id: str) -> str:
    return f"Deleted session {session_id} and all its events."


def minted(token: Token) -> str:
    """What minting did, naming the token by its id (not a secret), which revokes it."""
    article = "an" if token.scope.startswith(("a", "e", "i", "o", "u")) else "a"
    return (
        f"Minted {article} {token.scope} token of session {token.session_id}, good until "
        f"{local(token.expires_at)}; `revoke {token.session_id} --id {token.id}` revokes it."
    )


def revoked(session_id: str, token_id: str | None) -> str:
    if token_id is None:
        return f"Revoked every token of session {session_id}."
    return f"Revoked token {token_id} of session {session_id}."
