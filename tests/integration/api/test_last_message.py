"""A session's last_message: the message of its newest event that has one, kept by every append."""

from __future__ import annotations

import uuid

from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import (
    append_events,
    create_session,
    new_session,
    session_url,
)


def get_session(client, session_id: str) -> dict:
    response = client.get(session_url(session_id), headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_session_has_no_last_message(client):
    assert create_session(client)["last_message"] is None


def test_events_without_messages_leave_it_null(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}, {"event_type": "tick"}])

    assert get_session(client, session_id)["last_message"] is None


def test_it_is_the_batchs_newest_message_not_its_last_event(client):
    session_id = new_session(client)
    batch = [
        {"event_type": "a", "message": "first"},
        {"event_type": "b", "message": "newest with one"},
        {"event_type": "c"},
    ]
    append_events(client, session_id, batch)

    assert get_session(client, session_id)["last_message"] == "newest with one"


def test_a_batch_without_messages_keeps_the_previous_one(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a", "message": "kept"}])
    append_events(client, session_id, [{"event_type": "b"}, {"event_type": "c", "message": None}])

    assert get_session(client, session_id)["last_message"] == "kept"


def test_a_later_batch_replaces_it(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a", "message": "old"}])
    append_events(client, session_id, [{"event_type": "b", "message": "Ünïcode 100% _done_"}])

    assert get_session(client, session_id)["last_message"] == "Ünïcode 100% _done_"


def test_an_append_with_client_ids_sets_it_and_a_retry_keeps_it(client):
    session_id = new_session(client)
    event = {"id": str(uuid.uuid4()), "event_type": "a", "message": "once"}
    append_events(client, session_id, [event])
    append_events(client, session_id, [{"event_type": "b", "message": "later"}])
    append_events(client, session_id, [event])  # a retry stores nothing

    assert get_session(client, session_id)["last_message"] == "later"


def test_a_status_change_keeps_the_message_that_says_why(client):
    """A failed run's row shows its failure, not "in_progress -> failed" (its badge says that);
    a producer's own `status_changed` events are status changes too."""
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "workflow_failed", "message": "no tests"}])
    response = client.patch(session_url(session_id), json={"status": "failed"}, headers=WRITE)

    assert response.status_code == 200, response.text
    assert response.json()["last_message"] == "no tests"
    append_events(client, session_id, [{"event_type": "status_changed", "message": "x -> y"}])
    assert get_session(client, session_id)["last_message"] == "no tests"
