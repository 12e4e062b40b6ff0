"""The contract's operations and the loops built on them, as generators of steps (steps.py).

Reads, appends (whose every event carries an id, so a repeat is stored once) and revocations
(a repeat changes nothing) are retried after connection errors, timeouts and 503s; the other
writes are not, since a repeat of one that did happen would be refused (a second create, a
second change of status) or mint a second token. A 401 or 403 is never retried.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from session_events_client.errors import answer, expect
from session_events_client.models import (
    CreatedSession,
    EventList,
    EventPage,
    Session,
    SessionPage,
    SessionStatus,
    Token,
)
from session_events_client.steps import API, Emit, Retry, Send, sent

# The contract's final statuses, named by the generated enum so a status it renames or drops fails
# at import; every other part of the client takes them from here.
TERMINAL = frozenset({SessionStatus.completed, SessionStatus.failed, SessionStatus.cancelled})
LONGEST_WAIT = 25  # seconds a long-poll is held (the contract allows 30)
RETRY = Retry()


def create_session(
    session_type: str,
    project_path: str | None = None,
    config: Mapping[str, Any] | None = None,
    id: uuid.UUID | str | None = None,
    tokens: Iterable[str] | None = None,
):
    scopes = None if tokens is None else [str(scope) for scope in tokens]
    body = present(
        session_type=session_type, project_path=project_path, config=config, id=id, tokens=scopes
    )
    response = yield from sent(Send("POST", f"{API}/sessions", json=body), None)
    return answer(response, 201, CreatedSession)


def create_token(session_id: uuid.UUID | str, scope: str = "read", ttl_seconds: int | None = None):
    """Not retried: a repeat would mint a second token, the first one lost but alive."""
    body = present(scope=str(scope), ttl_seconds=ttl_seconds)
    request = Send("POST", f"{API}/sessions/{session_id}/tokens", json=body)
    response = yield from sent(request, None)
    return answer(response, 201, Token)


def revoke_token(
    session_id: uuid.UUID | str, token_id: uuid.UUID | str, retry: Retry | None = RETRY
):
    """Retried, as revoking twice changes nothing and a revocation lost would leave it alive."""
    request = Send("DELETE", f"{API}/sessions/{session_id}/tokens/{token_id}")
    response = yield from sent(request, retry)
    expect(response, 204)


def revoke_tokens(session_id: uuid.UUID | str, retry: Retry | None = RETRY):
    response = yield from sent(Send("DELETE", f"{API}/sessions/{session_id}/tokens"), retry)
    expect(response, 204)


def get_session(session_id: uuid.UUID | str, retry: Retry | None = RETRY):
    response = yield from sent(Send("GET", f"{API}/sessions/{session_id}"), retry)
    return answer(response, 200, Session)


def list_sessions(page=None, per_page=None, retry: Retry | None = RETRY, **filters: Any):
    """One page of sessions; `filters` are the listing's query parameters (status,
    session_type, project_path, created_after, created_before, q)."""
    given = {**filters, "page": page, "per_page": per_page}
    params = {name: query_value(value) for name, value in given.items() if value is not None}
    response = yield from sent(Send("GET", f"{API}/sessions", params=params), retry)
    return answer(response, 200, SessionPage)


def update_session(session_id: uuid.UUID | str, status: str):
    request = Send("PATCH", f"{API}/sessions/{session_id}", json={"status": str(status)})
    response = yield from sent(request, None)
    return answer(response, 200, Session)


def delete_session(session_id: uuid.UUID | str):
    response = yield from sent(Send("DELETE", f"{API}/sessions/{session_id}"), None)
    expect(response, 204)


def append_events(
    session_id: uuid.UUID | str, events: Iterable[Mapping[str, Any]], retry: Retry | None = RETRY
):
    """The stored events, one per event given, in order. Each event without an `id` gets one
    here, so the batch can be sent again after a failure and is still stored once."""
    batch = {"events": [with_id(event) for event in events]}
    request = Send("POST", f"{API}/sessions/{session_id}/events", json=batch)
    response = yield from sent(request, retry)
    return answer(response, 201, EventList).items


def list_events(session_id: uuid.UUID | str, retry: Retry | None = RETRY, **filters: Any):
    """One page of events; `filters` are the listing's query parameters (since, event_type,
    step_id, q, after_seq, until_seq, order, page, per_page, include_total, wait)."""
    response = yield from sent(listing(session_id, filters), retry)
    return answer(response, 200, EventPage)


def iter_events(session_id: uuid.UUID | str, retry: Retry | None = RETRY, **filters: Any):
    """Every event of a listing, page after page along its `Link: rel="next"`, whose pinned
    `until_seq` keeps the walk to the events there were when it began."""
    response = yield from sent(listing(session_id, filters), retry)
    while True:
        for event in answer(response, 200, EventPage).items:
            yield Emit(event)
        following = response.links.get("next")
        if following is None:
            return
        response = yield from sent(Send("GET", following["url"]), retry)


def wait_until_finished(session_id: uuid.UUID | str, timeout: float, retry: Retry | None = RETRY):
    """The session once its status is final; TimeoutError after `timeout` seconds. Waits by
    long-polling its status changes, so an ending is seen at once and a quiet wait costs one
    request in LONGEST_WAIT seconds."""
    deadline = time.monotonic() + timeout
    session = yield from get_session(session_id, within(retry, deadline))
    cursor = session.event_count
    while session.status not in TERMINAL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"session {session_id} is still {session.status} after {timeout} s")
        changes = yield from list_events(
            session_id,
            within(retry, deadline),
            event_type="status_changed",
            after_seq=cursor,
            order="asc",
            include_total=False,
            wait=max(1, min(LONGEST_WAIT, int(remaining))),
        )
        cursor = max(cursor, changes.latest_seq)
        if changes.items:
            session = yield from get_session(session_id, within(retry, deadline))
    return session


def within(retry: Retry | None, deadline: float) -> Retry | None:
    """`retry`, its time cut to what is left before `deadline`."""
    left = max(0.0, deadline - time.monotonic())
    return None if retry is None else dataclasses.replace(retry, seconds=min(retry.seconds, left))


def listing(session_id: uuid.UUID | str, filters: Mapping[str, Any]) -> Send:
    params = {name: query_value(value) for name, value in filters.items() if value is not None}
    wait = int(filters.get("wait") or 0)
    return Send("GET", f"{API}/sessions/{session_id}/events", params=params, timeout=wait)


def query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [query_value(item) for item in value]
    return str(value)


def present(**fields: Any) -> dict[str, Any]:
    """The fields that were given, as JSON takes them."""
    given = {name: value for name, value in fields.items() if value is not None}
    return {name: str(v) if isinstance(v, uuid.UUID) else v for name, v in given.items()}


def with_id(event: Mapping[str, Any]) -> dict[str, Any]:
    given = {name: value for name, value in event.items() if value is not None}
    given["id"] = str(given.get("id") or uuid.uuid4())
    if "step_id" in given:
        given["step_id"] = str(given["step_id"])
    return given
