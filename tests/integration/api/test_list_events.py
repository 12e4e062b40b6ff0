"""GET /api/v2/sessions/{session_id}/events against the real app on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.conftest import READ
from tests.integration.api.api_helpers import (
    EVENT_FIELDS,
    TIMESTAMP,
    append_events,
    assert_bad_request,
    events_url,
    list_events,
    new_session,
)

UNKNOWN_SESSION = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def append_numbered(client, session_id: str, count: int, event_type: str = "tick") -> list[dict]:
    """Append `count` events of `event_type`, numbered 1 to `count` in event_data and message."""
    events = [
        {"event_type": event_type, "event_data": {"n": n}, "message": f"{event_type} {n}"}
        for n in range(1, count + 1)
    ]
    return append_events(client, session_id, events)


def seqs(page: dict) -> list[int]:
    return [item["seq"] for item in page["items"]]


def as_offset(timestamp: str, hours: int) -> str:
    """The instant of a ...Z timestamp written with a ±hh:00 offset, microseconds kept."""
    instant = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    local = instant.astimezone(timezone(timedelta(hours=hours)))
    return local.isoformat(timespec="microseconds")


# --- order and shape -------------------------------------------------------------------------


def test_events_are_listed_newest_first(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 5)

    page = list_events(client, session_id)

    assert seqs(page) == [5, 4, 3, 2, 1]
    assert [item["event_data"] for item in page["items"]] == [{"n": n} for n in (5, 4, 3, 2, 1)]
    timestamps = [item["timestamp"] for item in page["items"]]
    assert timestamps == sorted(timestamps, reverse=True)
    assert len(set(timestamps)) == 5


def test_newest_first_holds_across_batches(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 2, "first")
    append_numbered(client, session_id, 2, "second")

    page = list_events(client, session_id)

    assert seqs(page) == [4, 3, 2, 1]
    assert [item["event_type"] for item in page["items"]] == ["second", "second", "first", "first"]


def test_event_item_has_exactly_the_testboost_fields_and_seq(client):
    session_id = new_session(client)
    step_id = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"
    event_id = "0b7e8f0c-3c1d-4a8e-9f57-2d6f0a1b2c3d"
    stored = append_events(
        client,
        session_id,
        [
            {
                "id": event_id,
                "event_type": "step_status_changed",
                "step_id": step_id,
                "event_data": {"step": "generate_tests", "new_status": "in_progress"},
                "message": "Step generate_tests started",
            }
        ],
    )

    (item,) = list_events(client, session_id)["items"]

    assert set(item) == EVENT_FIELDS
    assert item == {
        "id": event_id,
        "session_id": session_id,
        "seq": 1,
        "step_id": step_id,
        "event_type": "step_status_changed",
        "event_data": {"step": "generate_tests", "new_status": "in_progress"},
        "message": "Step generate_tests started",
        "timestamp": stored[0]["timestamp"],
    }


def test_event_without_step_or_message_lists_them_as_null(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "workflow_started"}])

    (item,) = list_events(client, session_id)["items"]

    assert item["step_id"] is None
    assert item["message"] is None
    assert item["event_data"] == {}


def test_timestamps_are_utc_with_six_fractional_digits(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 3)

    page = list_events(client, session_id)

    for item in page["items"]:
        assert TIMESTAMP.fullmatch(item["timestamp"]), item["timestamp"]


# --- since -----------------------------------------------------------------------------------


def test_since_returns_only_events_strictly_after_it(client):
    session_id = new_session(client)
    stored = append_numbered(client, session_id, 6)

    page = list_events(client, session_id, f"since={stored[2]['timestamp']}")

    assert seqs(page) == [6, 5, 4]
    assert page["pagination"]["total"] == 3


def test_since_of_the_newest_event_returns_nothing(client):
    session_id = new_session(client)
    stored = append_numbered(client, session_id, 3)

    page = list_events(client, session_id, f"since={stored[-1]['timestamp']}")

    assert page["items"] == []
    assert page["pagination"]["total"] == 0


def test_since_lets_a_poller_get_only_new_events(client):
    session_id = new_session(client)
    first = append_numbered(client, session_id, 2)
    newest = list_events(client, session_id)["items"][0]["timestamp"]
    assert newest == first[-1]["timestamp"]
    append_numbered(client, session_id, 3, "later")

    page = list_events(client, session_id, f"since={newest}")

    assert seqs(page) == [5, 4, 3]
    assert {item["event_type"] for item in page["items"]} == {"later"}


def test_since_in_the_future_returns_an_empty_list(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 3)

    page = list_events(client, session_id, "since=2999-01-01T00:00:00Z")

    assert page["items"] == []
    assert page["pagination"]["total"] == 0
    assert page["pagination"]["total_pages"] == 0


def test_since_in_the_past_returns_every_event(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 3)

    page = list_events(client, session_id, "since=2000-01-01T00:00:00Z")

    assert seqs(page) == [3, 2, 1]
    assert page["pagination"]["total"] == 3


def test_since_with_a_positive_offset_is_read_relative_to_utc(client):
    session_id = new_session(client)
    stored = append_numbered(client, session_id, 5)
    since = as_offset(stored[1]["timestamp"], 2)
    assert since.endswith("+02:00")

    page = list_events(client, session_id, "since=" + since.replace("+", "%2B"))

    assert seqs(page) == [5, 4, 3]
    assert page["pagination"]["total"] == 3


def test_since_with_a_negative_offset_is_read_relative_to_utc(client):
    session_id = new_session(client)
    stored = append_numbered(client, session_id, 5)
    since = as_offset(stored[3]["timestamp"], -5)
    assert since.endswith("-05:00")

    page = list_events(client, session_id, f"since={since}")

    assert seqs(page) == [5]
    assert page["pagination"]["total"] == 1


def test_since_without_an_offset_is_rejected_with_a_plain_sentence(client):
    session_id = new_session(client)

    response = client.get(events_url(session_id, "since=2026-01-13T14:30:00"), headers=READ)

    problem = assert_bad_request(response, "since")
    assert problem["detail"] == (
        "since must be an RFC 3339 date-time with an offset, such as 2026-01-13T14:30:00Z "
        '(got "2026-01-13T14:30:00").'
    )


@pytest.mark.parametrize(
    "since",
    [
        "yesterday",
        "2026-01-13",
        "2026-13-01T00:00:00Z",
        "2026-01-13T25:00:00Z",
        "2026-01-13 14:30:00 02:00",  # an unencoded + arrives as a space
        "2026-01-13T14:30:00.Z",
        "",
    ],
)
def test_malformed_since_is_rejected(client, since):
    session_id = new_session(client)

    response = client.get(events_url(session_id), params={"since": since}, headers=READ)

    assert_bad_request(response, "since")


# --- event_type ------------------------------------------------------------------------------


def test_event_type_filter_returns_only_that_type(client):
    session_id = new_session(client)
    append_events(
        client,
        session_id,
        [
            {"event_type": "workflow_started"},
            {"event_type": "step_status_changed"},
            {"event_type": "workflow_error"},
            {"event_type": "step_status_changed"},
            {"event_type": "workflow_error"},
        ],
    )

    page = list_events(client, session_id, "event_type=workflow_error")

    assert seqs(page) == [5, 3]
    assert {item["event_type"] for item in page["items"]} == {"workflow_error"}
    assert page["pagination"]["total"] == 2
    assert page["pagination"]["total_pages"] == 1


def test_event_type_and_since_combine(client):
    session_id = new_session(client)
    stored = append_events(
        client,
        session_id,
        [{"event_type": "tick" if n % 2 else "tock"} for n in range(1, 9)],
    )

    page = list_events(client, session_id, f"event_type=tick&since={stored[2]['timestamp']}")

    assert seqs(page) == [7, 5]
    assert page["pagination"]["total"] == 2


def test_unknown_event_type_returns_an_empty_list(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 3)

    page = list_events(client, session_id, "event_type=never_happened")

    assert page["items"] == []
    assert page["pagination"] == {
        "page": 1,
        "per_page": 20,
        "total": 0,
        "total_pages": 0,
        "has_next": False,
        "has_prev": False,
    }


@pytest.mark.parametrize("event_type", ["Workflow-Error", "workflow error", "tick1", ""])
def test_event_type_breaking_the_pattern_is_rejected(client, event_type):
    session_id = new_session(client)

    response = client.get(events_url(session_id), params={"event_type": event_type}, headers=READ)

    assert_bad_request(response, "event_type")


def test_event_type_of_101_characters_is_rejected(client):
    session_id = new_session(client)

    response = client.get(events_url(session_id, "event_type=" + "a" * 101), headers=READ)

    problem = assert_bad_request(response, "event_type")
    assert "100" in problem["detail"]


def test_event_type_of_100_characters_is_accepted(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a" * 100}, {"event_type": "b"}])

    page = list_events(client, session_id, "event_type=" + "a" * 100)

    assert seqs(page) == [1]


# --- pagination ------------------------------------------------------------------------------


@pytest.fixture
def session_of_45(client) -> str:
    session_id = new_session(client)
    append_numbered(client, session_id, 45)
    return session_id


@pytest.mark.parametrize(
    ("page_number", "size", "has_next", "has_prev"),
    [(1, 20, True, False), (2, 20, True, True), (3, 5, False, True)],
)
def test_pages_of_45_events_at_20_per_page(
    client, session_of_45, page_number, size, has_next, has_prev
):
    page = list_events(client, session_of_45, f"page={page_number}&per_page=20")

    first = 45 - (page_number - 1) * 20
    assert seqs(page) == list(range(first, first - size, -1))
    assert page["pagination"] == {
        "page": page_number,
        "per_page": 20,
        "total": 45,
        "total_pages": 3,
        "has_next": has_next,
        "has_prev": has_prev,
    }


def test_page_beyond_the_last_is_empty_with_the_total(client, session_of_45):
    page = list_events(client, session_of_45, "page=4&per_page=20")

    assert page["items"] == []
    assert page["pagination"] == {
        "page": 4,
        "per_page": 20,
        "total": 45,
        "total_pages": 3,
        "has_next": False,
        "has_prev": True,
    }


def test_pages_concatenated_are_every_event_once_newest_first(client, session_of_45):
    collected = []
    for page_number in (1, 2, 3):
        collected += seqs(list_events(client, session_of_45, f"page={page_number}&per_page=20"))

    assert collected == list(range(45, 0, -1))
    assert len(set(collected)) == 45


def test_pages_with_an_event_type_filter(client):
    session_id = new_session(client)
    append_events(
        client,
        session_id,
        [{"event_type": "tick" if n % 2 else "tock"} for n in range(1, 91)],
    )
    ticks = list(range(89, 0, -2))  # the 45 odd seqs, newest first

    pages = [
        list_events(client, session_id, f"event_type=tick&page={n}&per_page=20")
        for n in (1, 2, 3, 4)
    ]

    assert [len(page["items"]) for page in pages] == [20, 20, 5, 0]
    assert seqs(pages[0]) + seqs(pages[1]) + seqs(pages[2]) == ticks
    for page in pages:
        assert {item["event_type"] for item in page["items"]} <= {"tick"}
    assert [page["pagination"] for page in pages] == [
        {
            "page": n,
            "per_page": 20,
            "total": 45,
            "total_pages": 3,
            "has_next": n < 3,
            "has_prev": n > 1,
        }
        for n in (1, 2, 3, 4)
    ]


def test_pages_with_since_count_only_newer_events(client):
    session_id = new_session(client)
    stored = append_numbered(client, session_id, 30)

    page = list_events(client, session_id, f"since={stored[4]['timestamp']}&page=2&per_page=10")

    assert seqs(page) == list(range(20, 10, -1))
    assert page["pagination"] == {
        "page": 2,
        "per_page": 10,
        "total": 25,
        "total_pages": 3,
        "has_next": True,
        "has_prev": True,
    }


def test_defaults_are_page_1_and_20_per_page(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 21)

    page = list_events(client, session_id)

    assert seqs(page) == list(range(21, 1, -1))
    assert page["pagination"] == {
        "page": 1,
        "per_page": 20,
        "total": 21,
        "total_pages": 2,
        "has_next": True,
        "has_prev": False,
    }


def test_per_page_of_100_is_accepted(client):
    session_id = new_session(client)
    append_numbered(client, session_id, 101)

    page = list_events(client, session_id, "per_page=100")

    assert seqs(page) == list(range(101, 1, -1))
    assert page["pagination"]["total_pages"] == 2


# --- empty session ---------------------------------------------------------------------------


@pytest.mark.parametrize("page_number", [1, 2])
def test_session_without_events_lists_nothing(client, page_number):
    session_id = new_session(client)

    page = list_events(client, session_id, f"page={page_number}")

    assert page == {
        "items": [],
        "pagination": {
            "page": page_number,
            "per_page": 20,
            "total": 0,
            "total_pages": 0,
            "has_next": False,
            "has_prev": False,
        },
        "latest_seq": 0,
    }


def test_events_of_another_session_are_not_listed(client):
    mine = new_session(client)
    other = new_session(client)
    append_numbered(client, other, 4)
    append_numbered(client, mine, 2)

    page = list_events(client, mine)

    assert seqs(page) == [2, 1]
    assert {item["session_id"] for item in page["items"]} == {mine}
    assert page["pagination"]["total"] == 2


# --- unknown and malformed sessions ----------------------------------------------------------


def test_unknown_session_is_404_problem(client):
    response = client.get(events_url(UNKNOWN_SESSION), headers=READ)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["title"] == "Not Found"
    assert problem["detail"] == f"Session not found: {UNKNOWN_SESSION}"


def test_unknown_session_with_filters_is_still_404(client):
    url = events_url(UNKNOWN_SESSION, "since=2000-01-01T00:00:00Z&event_type=tick&page=2")

    response = client.get(url, headers=READ)

    assert response.status_code == 404
    assert response.json()["detail"] == f"Session not found: {UNKNOWN_SESSION}"


@pytest.mark.parametrize(
    "session_id", ["not-a-uuid", "12345", "6f1c2a3b4d5e4f608a7b9c0d1e2f3a4bzz"]
)
def test_malformed_session_id_is_rejected(client, session_id):
    response = client.get(events_url(session_id), headers=READ)

    assert_bad_request(response, "session_id")


# --- rejected query parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=abc", "per_page"),
        ("per_page=2.5", "per_page"),
    ],
)
def test_bad_page_parameters_are_rejected(client, query, parameter):
    session_id = new_session(client)

    response = client.get(events_url(session_id, query), headers=READ)

    problem = assert_bad_request(response, parameter)
    assert problem["detail"].startswith(f"{parameter} must be ")


@pytest.mark.parametrize("query", ["", "event_type=tick", "event_type=tick&event_type=tock"])
def test_a_page_past_the_end_is_empty_however_large(client, query):
    """No maximum: page 2**31 (once refused) or 2**62 is an empty page with the pagination."""
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}, {"event_type": "tock"}])
    for page in (2**31, 2**62):
        body = list_events(client, session_id, f"{query}&page={page}&per_page=80")
        assert body["items"] == []
        assert body["pagination"]["page"] == page
        assert body["pagination"]["has_next"] is False
        assert body["pagination"]["has_prev"] is True
        assert body["pagination"]["total_pages"] == 1


def test_unknown_query_parameter_is_rejected(client):
    session_id = new_session(client)

    response = client.get(events_url(session_id, "event_typ=tick"), headers=READ)

    problem = assert_bad_request(response, "event_typ")
    assert problem["detail"].startswith("Unknown query parameter(s): event_typ.")


def test_unknown_query_parameter_is_rejected_beside_valid_ones(client):
    session_id = new_session(client)

    response = client.get(events_url(session_id, "page=1&limit=5"), headers=READ)

    assert_bad_request(response, "limit")


def test_an_offset_whose_plus_was_not_escaped_gets_a_hint_to_send_2b(client):
    session_id = new_session(client)

    response = client.get(events_url(session_id, "since=2026-01-13T14:30:00+02:00"), headers=READ)

    problem = assert_bad_request(response, "since")
    assert problem["detail"].endswith(
        '(got "2026-01-13T14:30:00 02:00"). A + in a URL\'s query string reads as a space: '
        "send the offset as %2B02:00."
    )
