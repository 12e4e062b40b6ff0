"""POST /api/v2/sessions, GET /api/v2/sessions/{id} and GET /api/v2/sessions, on both backends."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import READ
from tests.integration.api.api_helpers import (
    SESSIONS,
    TIMESTAMP,
    append_events,
    assert_bad_request,
    assert_problem,
    create_session,
    list_sessions,
    new_session,
    post_session,
    session_total,
    session_url,
)

SESSION_FIELDS = {
    "id",
    "session_type",
    "status",
    "project_path",
    "config",
    "created_at",
    "updated_at",
    "event_count",
    "last_event_at",
    "completed_at",
    "last_message",
}
NO_SESSIONS = dict.fromkeys(
    ["pending", "in_progress", "paused", "completed", "failed", "cancelled"], 0
)
CHOSEN_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
UNKNOWN_ID = "0b7e8f0c-3c1d-4a8e-9f57-2d6f0a1b2c3d"


def append_ticks(client, session_id: str, count: int) -> list[dict]:
    """Append `count` events of type tick, numbered from 0 in event_data."""
    events = [{"event_type": "tick", "event_data": {"n": n}} for n in range(count)]
    return append_events(client, session_id, events)


def get_session(client, session_id: str) -> dict:
    response = client.get(session_url(session_id), headers=READ)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


# --- POST /sessions --------------------------------------------------------------------------


def test_create_session_returns_201_with_a_pending_session(client):
    response = post_session(client, {"session_type": "test_generation"})

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == SESSION_FIELDS
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["session_type"] == "test_generation"
    assert body["status"] == "pending"
    assert body["project_path"] is None
    assert body["config"] == {}
    assert body["event_count"] == 0
    assert body["last_event_at"] is None
    assert TIMESTAMP.fullmatch(body["created_at"]), body["created_at"]
    assert TIMESTAMP.fullmatch(body["updated_at"]), body["updated_at"]


def test_create_session_location_names_the_new_session(client):
    response = post_session(client, {"session_type": "test_generation"})

    assert response.status_code == 201
    assert response.headers["location"] == session_url(response.json()["id"])


def test_create_session_gives_each_session_a_new_id(client):
    first = create_session(client)
    second = create_session(client)

    assert first["id"] != second["id"]


def test_create_session_with_all_fields(client):
    config = {"model": "gpt-4o", "max_steps": 40}

    body = create_session(client, id=CHOSEN_ID, project_path="/repos/petclinic", config=config)

    assert {key: body[key] for key in body if key not in ("created_at", "updated_at")} == {
        "id": CHOSEN_ID,
        "session_type": "test_generation",
        "status": "pending",
        "project_path": "/repos/petclinic",
        "config": {"model": "gpt-4o", "max_steps": 40},
        "event_count": 0,
        "last_event_at": None,
        "completed_at": None,
        "last_message": None,
    }


def test_create_session_uses_the_chosen_id(client):
    response = post_session(client, {"id": CHOSEN_ID, "session_type": "build"})

    assert response.status_code == 201
    assert response.json()["id"] == CHOSEN_ID
    assert response.headers["location"] == session_url(CHOSEN_ID)
    assert get_session(client, CHOSEN_ID)["session_type"] == "build"


def test_create_session_with_a_taken_id_is_409(client):
    create_session(client, id=CHOSEN_ID, project_path="/first")

    response = post_session(client, {"id": CHOSEN_ID, "session_type": "build"})

    problem = assert_problem(response, 409, "Conflict")
    assert CHOSEN_ID in problem["detail"]
    assert problem["detail"] == (
        f"A session with id {CHOSEN_ID} already exists; omit id to get a new one."
    )


def test_create_session_with_a_taken_id_leaves_the_first_unchanged(client):
    first = create_session(client, id=CHOSEN_ID, project_path="/first")

    post_session(client, {"id": CHOSEN_ID, "session_type": "build", "project_path": "/second"})

    assert get_session(client, CHOSEN_ID) == first
    assert session_total(client) == 1


@pytest.mark.parametrize("session_type", ["Test-Generation", "test generation", "build2", ""])
def test_create_session_with_a_bad_session_type_is_400(client, session_type):
    response = post_session(client, {"session_type": session_type})

    assert_bad_request(response, "session_type")
    assert session_total(client) == 0


def test_create_session_with_a_session_type_of_101_characters_is_400(client):
    response = post_session(client, {"session_type": "a" * 101})

    assert_bad_request(response, "session_type")


def test_create_session_without_session_type_is_400(client):
    response = post_session(client, {"project_path": "/repos/petclinic"})

    assert_bad_request(response, "session_type")


def test_create_session_with_an_unknown_field_is_400(client):
    response = post_session(client, {"session_type": "build", "owner": "alice"})

    assert_bad_request(response, "owner")
    assert session_total(client) == 0


def test_create_session_with_a_malformed_id_is_400(client):
    response = post_session(client, {"id": "not-a-uuid", "session_type": "build"})

    assert_bad_request(response, "id")


def test_create_session_with_nul_in_project_path_is_400_and_stores_nothing(client):
    response = post_session(
        client, {"id": CHOSEN_ID, "session_type": "build", "project_path": "/repos/\u0000evil"}
    )

    assert_bad_request(response, "project_path")
    assert session_total(client) == 0
    assert client.get(session_url(CHOSEN_ID), headers=READ).status_code == 404


def test_create_session_with_a_config_that_is_not_an_object_is_400(client):
    response = post_session(client, {"session_type": "build", "config": ["model"]})

    assert_bad_request(response, "config")


def test_project_path_round_trips(client):
    path = "C:\\Users\\zoë\\my project/ünïcode ✓"

    created = create_session(client, project_path=path)

    assert created["project_path"] == path
    assert get_session(client, created["id"])["project_path"] == path


def test_config_round_trips_with_nested_objects(client):
    config = {
        "model": "gpt-4o",
        "limits": {"max_steps": 40, "budget": {"usd": 12.5, "hard": True}},
        "tools": ["compile", {"name": "run_tests", "args": [1, None, "x"]}],
        "notes": None,
    }

    created = create_session(client, config=config)
    read = get_session(client, created["id"])

    assert created["config"] == config
    assert read["config"] == config


def test_config_keeps_its_key_order(client):
    config = {"zeta": 1, "alpha": {"y": 2, "b": 3}, "mid": 4}

    created = create_session(client, config=config)
    read = get_session(client, created["id"])["config"]

    assert list(read) == ["zeta", "alpha", "mid"]
    assert list(read["alpha"]) == ["y", "b"]


@pytest.mark.parametrize("body", [{}, {"config": None}], ids=["omitted", "null"])
def test_config_defaults_to_an_empty_object(client, body):
    created = create_session(client, **body)

    assert created["config"] == {}
    assert get_session(client, created["id"])["config"] == {}


# --- GET /sessions/{id} ----------------------------------------------------------------------


def test_get_session_returns_the_created_session(client):
    created = create_session(client, project_path="/repos/petclinic", config={"model": "m"})

    assert get_session(client, created["id"]) == created


def test_get_unknown_session_is_404(client):
    response = client.get(session_url(UNKNOWN_ID), headers=READ)

    problem = assert_problem(response, 404, "Not Found")
    assert problem["detail"] == f"Session not found: {UNKNOWN_ID}"


def test_get_session_with_a_malformed_id_is_400(client):
    response = client.get(session_url("not-a-uuid"), headers=READ)

    assert_bad_request(response, "session_id")


def test_get_session_with_a_query_parameter_is_400(client):
    created = create_session(client)

    response = client.get(f"{session_url(created['id'])}?verbose=1", headers=READ)

    assert_bad_request(response, "verbose")


def test_event_count_and_last_event_at_follow_appended_events(client):
    session_id = new_session(client)

    first = append_ticks(client, session_id, 3)
    after_first = get_session(client, session_id)
    second = append_ticks(client, session_id, 2)
    after_second = get_session(client, session_id)

    assert after_first["event_count"] == 3
    assert after_first["last_event_at"] == first[-1]["timestamp"]
    assert after_second["event_count"] == 5
    assert after_second["last_event_at"] == second[-1]["timestamp"]
    assert TIMESTAMP.fullmatch(after_second["last_event_at"])


def test_event_count_counts_only_the_sessions_own_events(client):
    mine = new_session(client)
    other = new_session(client)
    append_ticks(client, other, 4)
    append_ticks(client, mine, 1)

    assert get_session(client, mine)["event_count"] == 1
    assert get_session(client, other)["event_count"] == 4


def test_listed_session_shows_its_event_count(client):
    session_id = new_session(client)
    stored = append_ticks(client, session_id, 2)

    (item,) = list_sessions(client)["items"]

    assert item["event_count"] == 2
    assert item["last_event_at"] == stored[-1]["timestamp"]


# --- GET /sessions ---------------------------------------------------------------------------


def test_list_sessions_when_there_are_none(client):
    assert list_sessions(client) == {
        "items": [],
        "pagination": {
            "page": 1,
            "per_page": 20,
            "total": 0,
            "total_pages": 0,
            "has_next": False,
            "has_prev": False,
        },
        "status_counts": NO_SESSIONS,
    }


def test_list_sessions_page_2_when_there_are_none(client):
    page = list_sessions(client, "page=2")

    assert page["items"] == []
    assert page["pagination"]["has_prev"] is False
    assert page["pagination"]["has_next"] is False
    assert page["pagination"]["total_pages"] == 0


def test_list_sessions_newest_first(client):
    created = [new_session(client, session_type=name) for name in ("one", "two", "three")]

    page = list_sessions(client)

    assert ids(page) == list(reversed(created))
    assert [item["session_type"] for item in page["items"]] == ["three", "two", "one"]


def test_listed_sessions_have_the_session_shape(client):
    created = create_session(client, project_path="/p", config={"a": {"b": 1}})

    (item,) = list_sessions(client)["items"]

    assert item == created


def test_list_sessions_by_status_pending(client):
    created = [new_session(client) for _ in range(3)]

    page = list_sessions(client, "status=pending")

    assert ids(page) == list(reversed(created))
    assert page["pagination"]["total"] == 3


@pytest.mark.parametrize("status", ["in_progress", "paused", "completed", "failed", "cancelled"])
def test_list_sessions_by_a_status_no_session_has(client, status):
    create_session(client)

    page = list_sessions(client, f"status={status}")

    assert page["items"] == []
    assert page["pagination"]["total"] == 0
    assert page["pagination"]["total_pages"] == 0


@pytest.mark.parametrize("status", ["done", "PENDING", ""])
def test_list_sessions_with_an_invalid_status_is_400(client, status):
    response = client.get(SESSIONS, params={"status": status}, headers=READ)

    assert_bad_request(response, "status")


@pytest.fixture
def five_sessions(client) -> list[str]:
    """Five session ids, newest first."""
    return [new_session(client) for _ in range(5)][::-1]


@pytest.mark.parametrize(
    ("page_number", "expected", "has_next", "has_prev"),
    [(1, slice(0, 2), True, False), (2, slice(2, 4), True, True), (3, slice(4, 5), False, True)],
)
def test_list_sessions_pages(client, five_sessions, page_number, expected, has_next, has_prev):
    page = list_sessions(client, f"page={page_number}&per_page=2")

    assert ids(page) == five_sessions[expected]
    assert page["pagination"] == {
        "page": page_number,
        "per_page": 2,
        "total": 5,
        "total_pages": 3,
        "has_next": has_next,
        "has_prev": has_prev,
    }


def test_list_sessions_page_beyond_the_last_is_empty(client, five_sessions):
    page = list_sessions(client, "page=4&per_page=2")

    assert page == {
        "items": [],
        "pagination": {
            "page": 4,
            "per_page": 2,
            "total": 5,
            "total_pages": 3,
            "has_next": False,
            "has_prev": True,
        },
        "status_counts": {**NO_SESSIONS, "pending": 5},
    }


def test_list_sessions_pages_concatenated_are_every_session_once(client, five_sessions):
    collected = []
    for page_number in (1, 2, 3):
        collected += ids(list_sessions(client, f"page={page_number}&per_page=2"))

    assert collected == five_sessions
    assert len(set(collected)) == 5


def test_list_sessions_pages_with_a_status(client, five_sessions):
    page = list_sessions(client, "status=pending&page=2&per_page=3")

    assert ids(page) == five_sessions[3:]
    assert page["pagination"] == {
        "page": 2,
        "per_page": 3,
        "total": 5,
        "total_pages": 2,
        "has_next": False,
        "has_prev": True,
    }


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("sort=created_at", "sort"),
    ],
)
def test_list_sessions_with_bad_query_parameters_is_400(client, query, parameter):
    response = client.get(f"{SESSIONS}?{query}", headers=READ)

    assert_bad_request(response, parameter)
