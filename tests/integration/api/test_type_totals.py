"""A typed total over the whole session comes from the per-type counts appends keep; over part of
the session it is counted. Both agree with the events, through every way events are stored."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import append_events, events_url, list_events, new_session
from tests.statements import statements


def total(client, session_id: str, query: str) -> int:
    return list_events(client, session_id, query)["pagination"]["total"]


def test_totals_follow_appends_retries_and_status_changes(client):
    session_id = new_session(client)
    retried = str(uuid.uuid4())
    append_events(client, session_id, [{"event_type": "a"}, {"event_type": "b"}] * 3)
    append_events(client, session_id, [{"event_type": "a", "id": retried}])
    append_events(client, session_id, [{"event_type": "a", "id": retried}, {"event_type": "c"}])
    for status in ("in_progress", "completed"):  # status_changed events, stored by another path
        response = client.patch(
            f"/api/v2/sessions/{session_id}", json={"status": status}, headers=WRITE
        )
        assert response.status_code == 200
    assert total(client, session_id, "event_type=a") == 4  # the retry counted once
    assert total(client, session_id, "event_type=b") == 3
    assert total(client, session_id, "event_type=a&event_type=c") == 5
    assert total(client, session_id, "event_type=status_changed") == 2
    assert total(client, session_id, "event_type=never") == 0
    # Part of the session: counted, and consistent with the whole.
    assert total(client, session_id, "event_type=a&after_seq=2") == 3
    assert total(client, session_id, "event_type=a&until_seq=3") == 2


def test_the_whole_session_total_reads_the_kept_counts(client, database_url):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "a"}] * 3)
    with statements() as seen:
        client.get(events_url(session_id, "event_type=a"), headers=READ)
    if database_url.startswith("postgresql"):
        [listing] = [s for s in seen if "from events" in s]
        assert "event_type_counts" in listing
    assert list_events(client, session_id, "event_type=a")["pagination"]["total"] == 3


async def test_kept_counts_match_the_events(client, database):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": t} for t in "abcab"])
    client.patch(f"/api/v2/sessions/{session_id}", json={"status": "cancelled"}, headers=WRITE)
    async with database.read() as conn:
        kept = dict(
            (await conn.execute(text("SELECT event_type, events FROM event_type_counts"))).all()
        )
        counted = dict(
            (
                await conn.execute(
                    text("SELECT event_type, count(*) FROM events GROUP BY event_type")
                )
            ).all()
        )
    assert kept == counted == {"a": 2, "b": 2, "c": 1, "status_changed": 1}
