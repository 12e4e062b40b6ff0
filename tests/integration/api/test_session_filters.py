"""GET /sessions' filters (session_type, project_path, the creation window, q) and its
status_counts, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import (
    SESSIONS,
    append_events,
    assert_bad_request,
    create_session,
    list_sessions,
    session_url,
)

STATUSES = ["pending", "in_progress", "paused", "completed", "failed", "cancelled"]


def listed(client, **query) -> list[str]:
    """The ids GET /sessions lists for `query` (lists repeat the parameter)."""
    page = list_sessions(client, urlencode({**query, "per_page": 100}, doseq=True))
    return [item["id"] for item in page["items"]]


def made(client, session_type="run", project_path=None, message=None, status=None) -> dict:
    """A new session, moved to `status` and then given an event with `message` (a status change
    appends a message of its own)."""
    session = create_session(client, session_type=session_type, project_path=project_path)
    steps = {None: [], "paused": ["in_progress", "paused"]}.get(status, [status])
    for step in steps:
        response = client.patch(session_url(session["id"]), json={"status": step}, headers=WRITE)
        assert response.status_code == 200, response.text
    if message is not None:
        append_events(client, session["id"], [{"event_type": "log", "message": message}])
    return session


def test_session_type_repeated_matches_any_of_them(client):
    build, agent = made(client, "build"), made(client, "agent")
    made(client, "test_generation")

    assert listed(client, session_type=["build", "agent"]) == [agent["id"], build["id"]]
    assert listed(client, session_type="agent") == [agent["id"]]


def test_project_path_is_a_prefix_matched_exactly(client):
    folder = made(client, project_path="/repos/petclinic")
    sibling = made(client, project_path="/repos/petclinic-api")
    below = made(client, project_path="/repos/petclinic/sub")
    made(client, project_path="/Repos/petclinic")  # another case is another path
    made(client, project_path="/repos/other")
    made(client)  # none

    assert listed(client, project_path="/repos/petclinic") == [
        below["id"],
        sibling["id"],
        folder["id"],
    ]
    assert listed(client, project_path="/repos/petclinic/") == [below["id"]]


def test_project_path_wildcards_and_unicode_are_plain_text(client):
    percent = made(client, project_path="/r%p/ünï_code")
    made(client, project_path="/rep/ünïXcode")

    assert listed(client, project_path="/r%p") == [percent["id"]]
    assert listed(client, project_path="/r_p") == []
    assert listed(client, project_path="/r%p/ünï_") == [percent["id"]]


def test_created_after_is_at_or_after_and_created_before_strictly_before(client):
    first, second, third = made(client), made(client), made(client)

    assert listed(client, created_after=second["created_at"]) == [third["id"], second["id"]]
    assert listed(client, created_before=second["created_at"]) == [first["id"]]
    window = {"created_after": second["created_at"], "created_before": third["created_at"]}
    assert listed(client, **window) == [second["id"]]
    same = {"created_after": second["created_at"], "created_before": second["created_at"]}
    assert listed(client, **same) == []


def test_the_window_takes_offsets(client):
    session = made(client)
    # ...Z; the same instant spelled two hours ahead (+02:00), on the next day if need be
    at = datetime.fromisoformat(session["created_at"])
    ahead = at.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="microseconds")

    assert listed(client, created_after=ahead) == [session["id"]]
    assert listed(client, created_before=ahead) == []


def test_created_before_before_created_after_is_400_with_a_sentence(client):
    query = "created_after=2026-01-14T00:00:00Z&created_before=2026-01-13T00:00:00Z"
    response = client.get(f"{SESSIONS}?{query}", headers=READ)

    detail = assert_bad_request(response, "created_before")["detail"]
    assert "created_after" in detail
    assert detail.endswith(".")


@pytest.mark.parametrize("parameter", ["created_after", "created_before"])
def test_a_window_bound_that_is_not_a_date_time_is_400(client, parameter):
    response = client.get(f"{SESSIONS}?{parameter}=yesterday", headers=READ)

    assert_bad_request(response, parameter)


def test_q_matches_the_start_of_the_id_ignoring_case(client):
    session = made(client)
    made(client)
    start = session["id"][:8]

    assert listed(client, q=start.upper()) == [session["id"]]
    assert session["id"] not in listed(client, q=session["id"][1:9])  # not within the id


def test_q_matches_type_path_and_last_message_anywhere_ignoring_case(client):
    by_type = made(client, session_type="nightly_build")
    by_path = made(client, project_path="/repos/PetClinic")
    by_message = made(client, message="Step generate_tests BUILD failed")
    made(client, session_type="agent", project_path="/x", message="nothing here")

    assert listed(client, q="BUILD") == [by_message["id"], by_type["id"]]
    assert listed(client, q="petclinic") == [by_path["id"]]
    assert listed(client, q="generate_tests") == [by_message["id"]]


def test_q_folds_case_as_the_events_q_does_the_letters_a_to_z(client):
    """One rule for both searches on both databases: A to Z fold, other letters are themselves."""
    plain = made(client, message="Deploy CAFE finished")
    accented = made(client, message="Déjà vu in ÉCOLE")

    assert listed(client, q="cafe") == [plain["id"]]
    assert listed(client, q="ÉCOLE") == [accented["id"]]
    assert listed(client, q="école") == []  # É is not A to Z: not folded, on PostgreSQL too


@pytest.mark.parametrize(
    ("text", "hit", "miss"),
    [
        ("100%", "took 100% of it", "took 1000 of it"),
        ("a_b", "a_b done", "axb done"),
        ("it's", "it's done", "its done"),
        ('say "hi"', 'say "hi" now', "say hi now"),
        ("ünï/cöde", "the ünï/cöde step", "the uni/code step"),
        ("\\n", "a \\n b", "a n b"),
        ("/", "a/b", "ab"),
    ],
)
def test_q_takes_hostile_text_literally(client, text, hit, miss):
    found = made(client, message=hit)
    made(client, message=miss)

    assert listed(client, q=text) == [found["id"]]


def test_filters_combine_and_status_counts_ignore_only_the_status(client):
    wanted = made(client, "build", "/repos/a", "Deploy step one", status="in_progress")
    made(client, "build", "/repos/a", "Deploy step two")  # pending
    made(client, "build", "/repos/a", "Deploy step three", status="cancelled")
    made(client, "agent", "/repos/a", "Deploy step", status="in_progress")  # another type
    made(client, "build", "/repos/b", "Deploy step", status="in_progress")  # another path
    made(client, "build", "/repos/a", "Test step", status="in_progress")  # another message
    query = {
        "status": "in_progress",
        "session_type": ["build"],
        "project_path": "/repos/a",
        "q": "deploy",
        "created_after": "2000-01-01T00:00:00Z",
        "created_before": "2999-01-01T00:00:00Z",
    }

    page = list_sessions(client, urlencode(query, doseq=True))

    assert [item["id"] for item in page["items"]] == [wanted["id"]]
    assert page["pagination"]["total"] == 1
    expected = {**dict.fromkeys(STATUSES, 0), "in_progress": 1, "pending": 1, "cancelled": 1}
    assert page["status_counts"] == expected


def test_status_counts_count_every_status_and_sum_to_the_total(client):
    for status in ("in_progress", "in_progress", "paused", None):
        made(client, status=status)

    page = list_sessions(client)
    chosen = list_sessions(client, "status=in_progress&per_page=1")

    assert page["status_counts"] == {
        **dict.fromkeys(STATUSES, 0),
        "pending": 1,
        "in_progress": 2,
        "paused": 1,
    }
    assert sum(page["status_counts"].values()) == page["pagination"]["total"] == 4
    assert chosen["status_counts"] == page["status_counts"]
    assert chosen["pagination"]["total"] == 2
    assert chosen["pagination"]["total_pages"] == 2


def test_nothing_matching_is_an_empty_page_with_zero_counts(client):
    made(client, "build")

    page = list_sessions(client, "q=nowhere")

    assert page["items"] == []
    assert page["pagination"]["total"] == 0
    assert page["status_counts"] == dict.fromkeys(STATUSES, 0)


@pytest.mark.parametrize("parameter", ["session_type", "project_path", "q"])
def test_nul_in_a_text_filter_is_400(client, parameter):
    response = client.get(f"{SESSIONS}?{parameter}=a%00b", headers=READ)

    assert_bad_request(response, parameter)
