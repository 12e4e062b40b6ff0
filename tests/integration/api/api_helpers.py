"""What the API tests share: paths, shapes, and making and reading sessions and events.

Every helper takes Starlette's test client (the `client` fixture) and sends the READ or WRITE
key of tests/conftest.py. The helpers named for a result (`create_session`, `append_events`,
`list_events`, `event_count`, ...) assert the success status; `post_session` and `post_events`
return the raw response for tests that check the answer themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from connexion.json_schema import resolve_refs

from session_events import app as app_module
from session_events.contract import load_contract
from tests.conftest import READ, WRITE

SESSIONS = "/api/v2/sessions"

# A timestamp as the API writes it: UTC, six fractional digits and a Z (use with fullmatch).
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")

# The fields of an event and of a problem+json document, as the contract lists them.
EVENT_FIELDS = {
    "id",
    "session_id",
    "step_id",
    "event_type",
    "event_data",
    "message",
    "timestamp",
    "seq",
}
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


@contextmanager
def both_ways(settings) -> Iterator[list]:
    """Test clients of the app both ways: the fast route, then Connexion's stack (with its
    response validation), started together."""
    started = []
    try:
        for fast_route in (True, False):
            test_client = app_module.create_app(settings, fast_route=fast_route).test_client()
            started.append(test_client.__enter__())
        yield started
    finally:
        for test_client in started:
            test_client.__exit__(None, None, None)


def query_parameters(path: str, contract: dict | None = None) -> list[str]:
    """The query parameters of GET `path` (as the contract spells it), in the contract's order."""
    operation = resolve_refs(contract or load_contract())["paths"][path]["get"]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def session_url(session_id: str) -> str:
    return f"{SESSIONS}/{session_id}"


def events_url(session_id: str, query: str = "") -> str:
    """The session's events, with `query` (already encoded) when given."""
    url = f"{SESSIONS}/{session_id}/events"
    return f"{url}?{query}" if query else url


# --- sessions ------------------------------------------------------------------------------------


def post_session(client, body: dict):
    """POST `body` to /sessions with the write key; the raw response."""
    return client.post(SESSIONS, json=body, headers=WRITE)


def create_session(client, **fields) -> dict:
    """A new session of type test_generation (or as `fields` say), as the 201 returned it."""
    response = post_session(client, {"session_type": "test_generation", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def new_session(client, **fields) -> str:
    """The id of a new session made by `create_session`."""
    return create_session(client, **fields)["id"]


def new_session_with_event(client) -> str:
    """The id of a new session holding exactly one event, of type "a"."""
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a"}])
    return session_id


def list_sessions(client, query: str = "") -> dict:
    """GET /sessions (with `query`, already encoded, when given): the 200 JSON page."""
    response = client.get(f"{SESSIONS}?{query}" if query else SESSIONS, headers=READ)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def session_total(client) -> int:
    """How many sessions are stored."""
    return list_sessions(client)["pagination"]["total"]


def event_count(client, session_id: str) -> int:
    """The session's event_count, as GET /sessions/{id} reports it."""
    response = client.get(session_url(session_id), headers=READ)
    assert response.status_code == 200, response.text
    return response.json()["event_count"]


# --- events --------------------------------------------------------------------------------------


def post_events(client, session_id: str, events: list[dict]):
    """POST `events` as one batch with the write key; the raw response."""
    return client.post(events_url(session_id), json={"events": events}, headers=WRITE)


def append_events(client, session_id: str, events: list[dict]) -> list[dict]:
    """Append `events` as one batch; the stored events the 201 returned, in request order."""
    response = post_events(client, session_id, events)
    assert response.status_code == 201, response.text
    return response.json()["items"]


def list_events(client, session_id: str, query: str = "") -> dict:
    """GET the session's events (with `query` when given): the 200 JSON page."""
    response = client.get(events_url(session_id, query), headers=READ)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def stored_total(client, session_id: str) -> int:
    """How many events the session's listing counts."""
    return list_events(client, session_id)["pagination"]["total"]


# --- problems ------------------------------------------------------------------------------------


def assert_problem(response, status: int, title: str, detail: str | None = None) -> dict:
    """A problem+json answer with this status and title; given `detail`, exactly the document
    {"type": "about:blank", "title": title, "status": status, "detail": detail}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"] == title
    if detail is not None:
        assert problem == {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        }
    return problem


def assert_bad_request(response, named: str) -> dict:
    """A 400 problem whose detail names `named` (a parameter or field)."""
    problem = assert_problem(response, 400, "Bad Request")
    assert named in problem["detail"]
    return problem
