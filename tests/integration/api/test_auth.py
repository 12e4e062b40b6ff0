"""API keys: read keys call the GET operations, write keys every operation; the contract document
and the Swagger UI are open; and the problems a key can cause are 401, 403 and never a 500."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import (
    SESSIONS,
    assert_problem,
    event_count,
    events_url,
    new_session,
    new_session_with_event,
    session_total,
    session_url,
)

UNKNOWN_KEY = (
    "The X-API-Key sent is not a known key; check it against EVENTS_READ_KEYS or EVENTS_WRITE_KEYS."
)
MISSING_KEY = "Send an API key in the X-API-Key header; this operation needs one."
READ_ONLY_KEY = "This operation writes and needs a write key; the X-API-Key sent is a read key."


def operations(session_id: str) -> list[tuple[str, str, dict | None]]:
    """Every operation of the contract as (method, path, JSON body)."""
    return [
        ("GET", SESSIONS, None),
        ("POST", SESSIONS, {"session_type": "test_generation"}),
        ("GET", session_url(session_id), None),
        ("GET", events_url(session_id), None),
        ("POST", events_url(session_id), {"events": [{"event_type": "a"}]}),
    ]


OPERATION_IDS = ["list_sessions", "create_session", "get_session", "list_events", "append_events"]


# --- 401 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(5), ids=OPERATION_IDS)
def test_missing_key_is_401(client, index):
    session_id = new_session_with_event(client)
    method, path, body = operations(session_id)[index]
    response = client.request(method, path, json=body)
    assert_problem(response, 401, "Unauthorized", MISSING_KEY)
    assert "X-API-Key" in response.json()["detail"]
    assert session_total(client) == 1
    assert event_count(client, session_id) == 1


@pytest.mark.parametrize("index", range(5), ids=OPERATION_IDS)
def test_unknown_key_is_401(client, index):
    session_id = new_session_with_event(client)
    method, path, body = operations(session_id)[index]
    response = client.request(method, path, json=body, headers={"X-API-Key": "not-a-key"})
    assert_problem(response, 401, "Unauthorized", UNKNOWN_KEY)
    assert session_total(client) == 1
    assert event_count(client, session_id) == 1


def test_empty_key_is_401(client):
    response = client.get(SESSIONS, headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "X-API-Key" in response.json()["detail"]


def test_key_differing_only_in_case_is_401(client):
    response = client.get(SESSIONS, headers={"X-API-Key": READ["X-API-Key"].upper()})
    assert_problem(response, 401, "Unauthorized", UNKNOWN_KEY)


def test_prefix_of_a_key_is_401(client):
    response = client.get(SESSIONS, headers={"X-API-Key": WRITE["X-API-Key"][:-1]})
    assert_problem(response, 401, "Unauthorized", UNKNOWN_KEY)


def test_non_ascii_key_is_401_not_500(client):
    response = client.get(SESSIONS, headers={"X-API-Key": b"\xc3\xa9"})
    assert_problem(response, 401, "Unauthorized", UNKNOWN_KEY)


def test_non_utf8_key_is_401_not_500(client):
    response = client.get(SESSIONS, headers={"X-API-Key": b"\xff\xfe"})
    assert_problem(response, 401, "Unauthorized", UNKNOWN_KEY)


def test_non_ascii_key_on_a_write_is_401_and_writes_nothing(client):
    response = client.post(
        SESSIONS, json={"session_type": "test_generation"}, headers={"X-API-Key": b"\xc3\xa9"}
    )
    assert_problem(response, 401, "Unauthorized", UNKNOWN_KEY)
    assert session_total(client) == 0


# --- 403 -----------------------------------------------------------------------------------------


def test_read_key_cannot_create_a_session(client):
    response = client.post(SESSIONS, json={"session_type": "test_generation"}, headers=READ)
    assert_problem(response, 403, "Forbidden", READ_ONLY_KEY)
    assert session_total(client) == 0


def test_read_key_cannot_create_a_session_with_a_chosen_id(client):
    chosen = str(uuid.uuid4())
    response = client.post(
        SESSIONS, json={"id": chosen, "session_type": "test_generation"}, headers=READ
    )
    assert_problem(response, 403, "Forbidden", READ_ONLY_KEY)
    assert client.get(session_url(chosen), headers=READ).status_code == 404


def test_read_key_cannot_append_events(client):
    session_id = new_session_with_event(client)
    response = client.post(
        events_url(session_id), json={"events": [{"event_type": "b"}]}, headers=READ
    )
    assert_problem(response, 403, "Forbidden", READ_ONLY_KEY)
    assert event_count(client, session_id) == 1
    listing = client.get(events_url(session_id), headers=READ).json()
    assert [e["event_type"] for e in listing["items"]] == ["a"]


# --- what each key may do ------------------------------------------------------------------------


def test_read_key_may_list_sessions(client):
    session_id = new_session(client)
    response = client.get(SESSIONS, headers=READ)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["items"]] == [session_id]


def test_read_key_may_read_a_session(client):
    session_id = new_session_with_event(client)
    response = client.get(session_url(session_id), headers=READ)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["event_count"]) == (session_id, 1)


def test_read_key_may_list_events(client):
    session_id = new_session_with_event(client)
    response = client.get(events_url(session_id), headers=READ)
    assert response.status_code == 200
    assert [(e["seq"], e["event_type"]) for e in response.json()["items"]] == [(1, "a")]


def test_write_key_may_create_a_session_and_append_events(client):
    response = client.post(SESSIONS, json={"session_type": "build"}, headers=WRITE)
    assert response.status_code == 201
    session_id = response.json()["id"]
    response = client.post(
        events_url(session_id), json={"events": [{"event_type": "a"}]}, headers=WRITE
    )
    assert response.status_code == 201
    assert response.json()["items"][0]["seq"] == 1


def test_write_key_may_read_every_read_operation(client):
    session_id = new_session_with_event(client)
    sessions = client.get(SESSIONS, headers=WRITE)
    session = client.get(session_url(session_id), headers=WRITE)
    events = client.get(events_url(session_id), headers=WRITE)
    assert (sessions.status_code, session.status_code, events.status_code) == (200, 200, 200)
    assert [s["id"] for s in sessions.json()["items"]] == [session_id]
    assert session.json()["event_count"] == 1
    assert [e["event_type"] for e in events.json()["items"]] == ["a"]


# --- open documents ------------------------------------------------------------------------------


def test_openapi_document_needs_no_key(client):
    response = client.get("/api/v2/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["info"]["title"] == "Session Events API"
    assert set(document["paths"]) == {
        "/sessions",
        "/sessions/stream",
        "/sessions/{session_id}/events",
        "/sessions/{session_id}",
        "/sessions/{session_id}/events/stream",
        "/sessions/{session_id}/summary",
        "/sessions/{session_id}/tokens",
        "/sessions/{session_id}/tokens/{token_id}",
    }


def test_swagger_ui_needs_no_key(client):
    response = client.get("/api/v2/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text


# --- 405 -----------------------------------------------------------------------------------------


def test_delete_on_sessions_is_405_with_allow_header(client):
    response = client.delete(SESSIONS, headers=WRITE)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["title"], problem["status"]) == (
        "about:blank",
        "Method Not Allowed",
        405,
    )
    assert "GET, HEAD, POST" in problem["detail"]


def test_put_on_events_is_405_with_allow_header(client):
    session_id = new_session(client)
    response = client.put(events_url(session_id), json={}, headers=WRITE)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.headers["content-type"] == "application/problem+json"
