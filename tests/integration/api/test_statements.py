"""What a listing asks the database: the 304 path reads the session alone, totals avoid COUNT."""

from __future__ import annotations

from tests.conftest import READ
from tests.integration.api.api_helpers import append_events, events_url, new_session
from tests.statements import statements


def test_a_304_reads_only_the_session(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}] * 5)
    url = events_url(session_id, "after_seq=5&order=asc&event_type=tick")
    tag = client.get(url, headers=READ).headers["ETag"]
    with statements() as seen:
        response = client.get(url, headers={**READ, "If-None-Match": tag})
    assert response.status_code == 304
    assert len(seen) == 1
    assert "from sessions" in seen[0]
    assert "events" not in seen[0]


def test_the_unfiltered_total_is_not_counted(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}] * 45)
    with statements() as seen:
        page = client.get(events_url(session_id, "per_page=20&page=2"), headers=READ).json()
    assert page["pagination"]["total"] == 45
    assert not [s for s in seen if "count(" in s]


def test_include_total_false_counts_nothing(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}] * 45)
    with statements() as seen:
        client.get(events_url(session_id, "event_type=tick&include_total=false"), headers=READ)
    assert not [s for s in seen if "count(" in s]
    with statements() as seen:
        client.get(events_url(session_id, "event_type=tick"), headers=READ)
    assert [s for s in seen if "count(" in s]
