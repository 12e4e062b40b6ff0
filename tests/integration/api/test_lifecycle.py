"""PATCH /api/v2/sessions/{session_id}: a session's status moves along its life, each change is a
status_changed event in its history, and every refused change leaves the session as it was."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import (
    PROBLEM_FIELDS,
    TIMESTAMP,
    append_events,
    assert_bad_request,
    assert_problem,
    list_events,
    list_sessions,
    new_session,
    session_total,
    session_url,
)

# The life of a session as the contract's description of the operation lists it.
ALLOWED = {
    "pending": ("in_progress", "completed", "failed", "cancelled"),
    "in_progress": ("paused", "completed", "failed", "cancelled"),
    "paused": ("in_progress", "failed", "cancelled"),
    "completed": (),
    "failed": (),
    "cancelled": (),
}
STATUSES = list(ALLOWED)
TERMINAL = ("completed", "failed", "cancelled")

# The allowed PATCHes that take a new (pending) session to each status.
PATH_TO = {
    "pending": (),
    "in_progress": ("in_progress",),
    "paused": ("in_progress", "paused"),
    "completed": ("completed",),
    "failed": ("failed",),
    "cancelled": ("cancelled",),
}

ALLOWED_PAIRS = [(old, new) for old in STATUSES for new in ALLOWED[old]]
FORBIDDEN_PAIRS = [
    (old, new) for old in STATUSES for new in STATUSES if new != old and new not in ALLOWED[old]
]

UNKNOWN_ID = "0b7e8f0c-3c1d-4a8e-9f57-2d6f0a1b2c3d"
MISSING_KEY = "Send an API key in the X-API-Key header; this operation needs one."
READ_ONLY_KEY = "This operation writes and needs a write key; the X-API-Key sent is a read key."


def pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-to-{pair[1]}"


def patch_status(client, session_id: str, status: str, headers: dict | None = None):
    """PATCH {"status": status} with the write key (or `headers`); the raw response."""
    headers = WRITE if headers is None else headers
    return client.patch(session_url(session_id), json={"status": status}, headers=headers)


def move(client, session_id: str, *statuses: str) -> dict:
    """PATCH the session through `statuses` in turn, each a 200; the last Session returned."""
    session = None
    for status in statuses:
        response = patch_status(client, session_id, status)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        session = response.json()
    return session


def get_session(client, session_id: str) -> dict:
    response = client.get(session_url(session_id), headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def session_in(client, status: str) -> str:
    """The id of a new session brought to `status` through allowed PATCHes."""
    session_id = new_session(client)
    move(client, session_id, *PATH_TO[status])
    assert get_session(client, session_id)["status"] == status
    return session_id


def events_oldest_first(client, session_id: str) -> list[dict]:
    return list_events(client, session_id, "order=asc&per_page=100")["items"]


def newest_event(client, session_id: str) -> dict:
    return events_oldest_first(client, session_id)[-1]


def forbidden_detail(old: str, new: str) -> str:
    """The 409 detail: the contract's example sentence for a final status; otherwise the same
    sentence followed by the statuses the session can become."""
    article = "An" if old[0] in "aeiou" else "A"
    if ALLOWED[old]:
        reason = f"from {old} it can become {', '.join(ALLOWED[old])}"
    else:
        reason = f"{old} is a final status"
    return f"{article} {old} session cannot become {new}; {reason}."


def assert_unchanged(client, session_id: str, before: dict, events_before: list[dict]) -> None:
    """The session and its history are exactly as they were."""
    assert get_session(client, session_id) == before
    assert events_oldest_first(client, session_id) == events_before


# --- allowed and forbidden transitions -----------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), ALLOWED_PAIRS, ids=map(pair_id, ALLOWED_PAIRS))
def test_allowed_transition_is_200_with_the_new_status(client, old, new):
    session_id = session_in(client, old)
    before = get_session(client, session_id)

    response = patch_status(client, session_id, new)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    session = response.json()
    assert session["status"] == new
    assert session["id"] == session_id
    assert session["event_count"] == before["event_count"] + 1
    assert get_session(client, session_id) == session


@pytest.mark.parametrize(("old", "new"), FORBIDDEN_PAIRS, ids=map(pair_id, FORBIDDEN_PAIRS))
def test_forbidden_transition_is_409_naming_both_states(client, old, new):
    session_id = session_in(client, old)

    response = patch_status(client, session_id, new)

    problem = assert_problem(response, 409, "Conflict", forbidden_detail(old, new))
    assert set(problem) == PROBLEM_FIELDS
    assert f" {old} session cannot become {new};" in problem["detail"]


@pytest.mark.parametrize(("old", "new"), FORBIDDEN_PAIRS, ids=map(pair_id, FORBIDDEN_PAIRS))
def test_forbidden_transition_changes_nothing(client, old, new):
    session_id = session_in(client, old)
    append_events(client, session_id, [{"event_type": "a"}])
    before = get_session(client, session_id)
    events_before = events_oldest_first(client, session_id)

    response = patch_status(client, session_id, new)

    assert response.status_code == 409, response.text
    assert_unchanged(client, session_id, before, events_before)
    assert before["status"] == old
    assert before["event_count"] == len(PATH_TO[old]) + 1


def test_terminal_status_example_of_the_contract(client):
    session_id = session_in(client, "completed")

    response = patch_status(client, session_id, "in_progress")

    assert_problem(
        response,
        409,
        "Conflict",
        "A completed session cannot become in_progress; completed is a final status.",
    )


@pytest.mark.parametrize("status", STATUSES)
def test_same_status_again_is_200_and_changes_nothing(client, status):
    session_id = session_in(client, status)
    append_events(client, session_id, [{"event_type": "a"}, {"event_type": "b"}])
    before = get_session(client, session_id)
    events_before = events_oldest_first(client, session_id)

    response = patch_status(client, session_id, status)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == before
    assert_unchanged(client, session_id, before, events_before)
    assert before["event_count"] == len(PATH_TO[status]) + 2


# --- the status_changed event --------------------------------------------------------------------


def test_change_appends_one_status_changed_event_after_the_previous_events(client):
    session_id = new_session(client)
    previous = append_events(client, session_id, [{"event_type": "a"}] * 3)

    session = move(client, session_id, "in_progress")

    events = events_oldest_first(client, session_id)
    assert [event["seq"] for event in events] == [1, 2, 3, 4]
    assert events[:3] == previous
    changed = events[3]
    assert changed["event_type"] == "status_changed"
    assert changed["event_data"] == {"old_status": "pending", "new_status": "in_progress"}
    assert changed["session_id"] == session_id
    assert changed["step_id"] is None
    assert str(uuid.UUID(changed["id"])) == changed["id"]
    assert TIMESTAMP.fullmatch(changed["timestamp"])
    assert session["event_count"] == 4


def test_status_changed_event_has_a_message_naming_both_states(client):
    session_id = session_in(client, "in_progress")

    move(client, session_id, "paused")

    message = newest_event(client, session_id)["message"]
    assert isinstance(message, str)
    assert "in_progress" in message
    assert "paused" in message


def test_updated_at_and_last_event_at_are_the_status_changed_timestamp(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a"}, {"event_type": "b"}])

    session = move(client, session_id, "in_progress")

    changed = newest_event(client, session_id)
    assert changed["event_type"] == "status_changed"
    assert session["updated_at"] == changed["timestamp"]
    assert session["last_event_at"] == changed["timestamp"]
    assert get_session(client, session_id) == session


def test_every_change_of_a_life_is_one_event_in_order(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a"}, {"event_type": "b"}])
    life = ["in_progress", "paused", "in_progress", "completed"]

    old = "pending"
    for step, new in enumerate(life, start=1):
        session = move(client, session_id, new)
        events = events_oldest_first(client, session_id)
        assert len(events) == 2 + step
        changed = events[-1]
        assert changed["seq"] == 2 + step
        assert changed["event_type"] == "status_changed"
        assert changed["event_data"] == {"old_status": old, "new_status": new}
        assert session["status"] == new
        assert session["event_count"] == 2 + step
        assert session["updated_at"] == changed["timestamp"]
        assert session["last_event_at"] == changed["timestamp"]
        old = new

    types = [event["event_type"] for event in events_oldest_first(client, session_id)]
    assert types == ["a", "b"] + ["status_changed"] * 4


# --- completed_at --------------------------------------------------------------------------------


def test_completed_at_is_null_before_a_terminal_status(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a"}])
    assert get_session(client, session_id)["completed_at"] is None

    for status in ("in_progress", "paused", "in_progress"):
        session = move(client, session_id, status)
        assert session["completed_at"] is None
        assert get_session(client, session_id)["completed_at"] is None


@pytest.mark.parametrize("terminal", TERMINAL)
def test_completed_at_is_the_timestamp_of_the_change_to_a_terminal_status(client, terminal):
    session_id = session_in(client, "in_progress")
    append_events(client, session_id, [{"event_type": "a"}])

    session = move(client, session_id, terminal)

    changed = newest_event(client, session_id)
    assert changed["event_data"] == {"old_status": "in_progress", "new_status": terminal}
    assert session["completed_at"] == changed["timestamp"]
    assert get_session(client, session_id)["completed_at"] == changed["timestamp"]


@pytest.mark.parametrize("terminal", TERMINAL)
def test_completed_at_stays_when_events_follow_the_terminal_status(client, terminal):
    session_id = session_in(client, "pending")
    completed_at = move(client, session_id, terminal)["completed_at"]

    append_events(client, session_id, [{"event_type": "late"}])

    session = get_session(client, session_id)
    assert session["completed_at"] == completed_at
    assert session["last_event_at"] != completed_at


# --- listing by status ---------------------------------------------------------------------------


def test_sessions_are_listed_by_their_new_status(client):
    untouched = new_session(client)
    started = session_in(client, "in_progress")
    paused = session_in(client, "paused")
    resumed = session_in(client, "paused")
    move(client, resumed, "in_progress")

    in_progress = list_sessions(client, "status=in_progress")
    assert {item["id"] for item in in_progress["items"]} == {started, resumed}
    assert {item["status"] for item in in_progress["items"]} == {"in_progress"}
    assert in_progress["pagination"]["total"] == 2
    assert [item["id"] for item in list_sessions(client, "status=paused")["items"]] == [paused]
    assert [item["id"] for item in list_sessions(client, "status=pending")["items"]] == [untouched]


# --- refused requests ----------------------------------------------------------------------------


def test_unknown_session_is_404(client):
    response = patch_status(client, UNKNOWN_ID, "in_progress")

    assert_problem(response, 404, "Not Found", f"Session not found: {UNKNOWN_ID}")
    assert session_total(client) == 0


def test_malformed_session_id_is_400(client):
    response = patch_status(client, "not-a-uuid", "in_progress")

    assert_bad_request(response, "session_id")


@pytest.fixture
def pending(client) -> tuple[str, dict, list[dict]]:
    """A pending session holding one event: its id, the session, and its events."""
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a"}])
    return session_id, get_session(client, session_id), events_oldest_first(client, session_id)


def test_unknown_status_value_is_400_naming_status(client, pending):
    session_id, before, events_before = pending

    response = patch_status(client, session_id, "done")

    assert_bad_request(response, "status")
    assert_unchanged(client, session_id, before, events_before)


def test_unknown_body_field_is_400(client, pending):
    session_id, before, events_before = pending

    response = client.patch(
        session_url(session_id), json={"status": "in_progress", "extra": True}, headers=WRITE
    )

    assert_bad_request(response, "extra")
    assert_unchanged(client, session_id, before, events_before)


def test_body_without_status_is_400_naming_status(client, pending):
    session_id, before, events_before = pending

    response = client.patch(session_url(session_id), json={}, headers=WRITE)

    assert_bad_request(response, "status")
    assert_unchanged(client, session_id, before, events_before)


@pytest.mark.parametrize(
    "headers",
    [WRITE, {**WRITE, "Content-Type": "application/json"}],
    ids=["no_content_type", "json_content_type"],
)
def test_missing_body_is_400(client, pending, headers):
    session_id, before, events_before = pending

    response = client.patch(session_url(session_id), headers=headers)

    assert_bad_request(response, "request body")
    assert_unchanged(client, session_id, before, events_before)


def test_read_key_is_403_and_changes_nothing(client, pending):
    session_id, before, events_before = pending

    response = patch_status(client, session_id, "in_progress", headers=READ)

    assert_problem(response, 403, "Forbidden", READ_ONLY_KEY)
    assert_unchanged(client, session_id, before, events_before)


def test_missing_key_is_401_and_changes_nothing(client, pending):
    session_id, before, events_before = pending

    response = patch_status(client, session_id, "in_progress", headers={})

    assert_problem(response, 401, "Unauthorized", MISSING_KEY)
    assert_unchanged(client, session_id, before, events_before)
