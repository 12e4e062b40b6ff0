"""GET /sessions/{session_id}/summary against sessions built by hand, on both databases: its
figures agree with the events listing's, its ETag follows the session."""

from __future__ import annotations

import uuid

from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import (
    TIMESTAMP,
    append_events,
    assert_problem,
    list_events,
    new_session,
    session_url,
)

STEP_A, STEP_B = str(uuid.uuid4()), str(uuid.uuid4())


def summary_url(session_id: str) -> str:
    return f"{session_url(session_id)}/summary"


def get_summary(client, session_id: str, **headers) -> dict:
    response = client.get(summary_url(session_id), headers={**READ, **headers})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-cache"
    return response.json()


def changed(step_id, step, old, new):
    data = {"step": step, "old_status": old, "new_status": new}
    return {"event_type": "step_status_changed", "step_id": step_id, "event_data": data}


def run_with_steps_and_an_error(client) -> tuple[str, list[dict]]:
    """A session of two steps (the second named only by its status change), a compile error
    in the second and a failed workflow, as two appends."""
    session_id = new_session(client)
    stored = append_events(
        client,
        session_id,
        [
            {"event_type": "workflow_started", "message": "Workflow started"},  # 1, no step
            changed(STEP_A, "generate_tests", "pending", "in_progress"),  # 2
            {"event_type": "log", "step_id": STEP_A, "message": "writing"},  # 3
            {"event_type": "log", "step_id": STEP_B, "event_data": {"n": 1}},  # 4, no name
            changed(STEP_B, "compile", "pending", "in_progress"),  # 5
        ],
    )
    stored += append_events(
        client,
        session_id,
        [
            {"event_type": "compile_error", "step_id": STEP_B, "message": "x.java:3"},  # 6
            changed(STEP_B, "compile", "in_progress", "failed"),  # 7
            changed(STEP_A, "generate_tests", "in_progress", "completed"),  # 8
            {"event_type": "workflow_failed", "message": "Workflow failed"},  # 9
        ],
    )
    return session_id, stored


def test_a_hand_built_session_is_summed_up(client):
    session_id, stored = run_with_steps_and_an_error(client)

    summary = get_summary(client, session_id)

    assert summary["session"] == client.get(session_url(session_id), headers=READ).json()
    assert summary["event_types"] == [
        {"event_type": "step_status_changed", "events": 4},
        {"event_type": "log", "events": 2},
        {"event_type": "compile_error", "events": 1},
        {"event_type": "workflow_failed", "events": 1},
        {"event_type": "workflow_started", "events": 1},
    ]
    assert summary["steps_total"] == 2
    assert summary["steps"] == [
        {
            "step_id": STEP_A,
            "name": "generate_tests",
            "status": "completed",
            "events": 3,
            "first_seq": 2,
            "last_seq": 8,
            "started_at": stored[1]["timestamp"],
            "ended_at": stored[7]["timestamp"],
        },
        {
            "step_id": STEP_B,
            "name": "compile",
            "status": "failed",
            "events": 4,
            "first_seq": 4,
            "last_seq": 7,
            "started_at": stored[3]["timestamp"],
            "ended_at": stored[6]["timestamp"],
        },
    ]
    assert summary["first_error"] == stored[5]  # compile_error, before workflow_failed
    activity = summary["activity"]
    assert activity["bucket_seconds"] == 60
    assert sum(activity["counts"]) == 9
    assert TIMESTAMP.fullmatch(activity["start"]) and activity["start"].endswith(":00.000000Z")
    assert activity["start"][:16] == stored[0]["timestamp"][:16]


def test_event_types_are_the_listings_totals(client):
    session_id, _ = run_with_steps_and_an_error(client)
    append_events(client, session_id, [{"event_type": "log"} for _ in range(30)])

    summary = get_summary(client, session_id)

    for entry in summary["event_types"]:
        listing = list_events(client, session_id, f"event_type={entry['event_type']}")
        assert entry["events"] == listing["pagination"]["total"]
    total = list_events(client, session_id)["pagination"]["total"]
    assert sum(entry["events"] for entry in summary["event_types"]) == total
    assert sum(summary["activity"]["counts"]) == total


def test_a_session_without_events_has_nulls_where_the_contract_allows(client):
    session_id = new_session(client)

    summary = get_summary(client, session_id)

    assert summary["event_types"] == []
    assert summary["activity"] == {"start": None, "bucket_seconds": 60, "counts": []}
    assert (summary["steps"], summary["steps_total"], summary["first_error"]) == ([], 0, None)


def test_a_session_without_errors_has_no_first_error(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "log", "message": "fine"}])

    assert get_summary(client, session_id)["first_error"] is None


def test_steps_beyond_the_thousandth_are_counted_not_listed(client):
    session_id = new_session(client)
    ids = [str(uuid.uuid4()) for _ in range(1001)]
    append_events(client, session_id, [{"event_type": "s", "step_id": i} for i in ids[:1000]])
    append_events(client, session_id, [{"event_type": "s", "step_id": ids[1000]}])

    summary = get_summary(client, session_id)

    assert summary["steps_total"] == 1001
    assert [step["step_id"] for step in summary["steps"]] == ids[:1000]
    assert summary["steps"][0]["name"] is None and summary["steps"][0]["status"] is None


def test_if_none_match_with_the_current_etag_is_304_until_the_session_changes(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "log"}])
    first = client.get(summary_url(session_id), headers=READ)
    tag = first.headers["etag"]

    again = client.get(summary_url(session_id), headers={**READ, "If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)

    append_events(client, session_id, [{"event_type": "log"}])
    appended = client.get(summary_url(session_id), headers={**READ, "If-None-Match": tag})
    assert appended.status_code == 200
    assert appended.headers["etag"] != tag

    tag = appended.headers["etag"]
    client.patch(session_url(session_id), json={"status": "in_progress"}, headers=WRITE)
    moved = client.get(summary_url(session_id), headers={**READ, "If-None-Match": tag})
    assert moved.status_code == 200
    assert moved.json()["session"]["status"] == "in_progress"


def test_a_session_recreated_under_its_id_has_another_etag(client):
    session_id = new_session(client)
    tag = client.get(summary_url(session_id), headers=READ).headers["etag"]
    client.delete(session_url(session_id), headers=WRITE)
    created = client.post(
        "/api/v2/sessions",
        json={"id": session_id, "session_type": "test_generation"},
        headers=WRITE,
    )
    assert created.status_code == 201

    again = client.get(summary_url(session_id), headers={**READ, "If-None-Match": tag})
    assert again.status_code == 200


def test_an_unknown_session_is_404(client):
    unknown = str(uuid.uuid4())
    response = client.get(summary_url(unknown), headers=READ)

    assert unknown in assert_problem(response, 404, "Not Found")["detail"]


def test_a_malformed_id_is_400(client):
    response = client.get(summary_url("not-a-uuid"), headers=READ)

    assert_problem(response, 400, "Bad Request")
