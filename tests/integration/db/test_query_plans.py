"""Every statement a read of the events endpoint runs uses an index on a 100k-event session.

The statements are captured as the API's own code runs them, then EXPLAIN ANALYZEd on PostgreSQL
with the same parameters: no sequential scan of events, no rows read only to be filtered out, no
sort of a session's rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from handlers.common import format_timestamp
from tests.conftest import READ

SESSIONS = 2
EVENTS_PER_SESSION = 100_000


@pytest.fixture
async def big_session(database, postgres):
    if database.backend != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL, the backend of record")
    async with database.write() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO sessions (id, session_type, status, config, created_at, updated_at,
                                      last_seq, last_event_at)
                SELECT gen_random_uuid(), 'test_generation', 'in_progress', '{}', now(), now(),
                       :n, now()
                FROM generate_series(1, :sessions)
                """
            ),
            {"n": EVENTS_PER_SESSION, "sessions": SESSIONS},
        )
        await conn.execute(
            text(
                """
                INSERT INTO events (session_id, seq, id, event_type, event_data, message, timestamp)
                SELECT s.id, g, gen_random_uuid(),
                       (ARRAY['step_status_changed', 'artifact_created', 'llm_call_completed',
                              'workflow_error'])[1 + g % 4],
                       '{"step": "generate_tests"}', 'message ' || g,
                       timestamp '2026-01-01' + g * interval '1 millisecond'
                FROM sessions s, generate_series(1, :n) g
                """
            ),
            {"n": EVENTS_PER_SESSION},
        )
    async with database.write() as conn:
        await conn.execute(text("ANALYZE sessions"))
        await conn.execute(text("ANALYZE events"))
        session_id = (await conn.execute(text("SELECT id FROM sessions LIMIT 1"))).scalar()
    return session_id


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


QUERIES = [
    "",  # the newest page
    "per_page=100&page=50",
    "after_seq=99000&order=asc&per_page=100",  # a cursor poller
    "until_seq=60000&per_page=100&page=300",  # a deep page of a pinned snapshot
    "event_type=workflow_error&per_page=20",
    "event_type=workflow_error&per_page=100&page=30&until_seq=90000",
    "event_type=workflow_error&event_type=artifact_created&per_page=50",
    "event_type=workflow_error&event_type=artifact_created&order=asc&after_seq=50000",
    "event_type=workflow_error&include_total=false&per_page=100&page=10",
    "since={since}&per_page=50",
    "since={since}&event_type=artifact_created",
]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_reads_use_indexes(database, big_session, client):
    since = format_timestamp(datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC))  # 90k events before it
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "events" in statement:
            captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)  # every engine, the app's included
    try:
        for query in QUERIES:
            url = f"/api/v2/sessions/{big_session}/events?" + query.format(since=since)
            assert client.get(url, headers=READ).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert len(captured) >= len(QUERIES), "the requests ran too few queries on events"

    async with database.read() as conn:
        for statement, parameters in captured:
            result = await conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
            )
            plan = result.scalar()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            nodes = list(plan_nodes(plan[0]["Plan"]))
            scans = [n for n in nodes if n.get("Relation Name") == "events"]
            assert scans, statement
            # Index, index-only and bitmap (index-driven) scans are fine; a sequential one is not.
            assert not [n for n in scans if n["Node Type"] == "Seq Scan"], (statement, nodes)
            # The index condition does the selecting: rows are not read only to be thrown away.
            assert all(n.get("Rows Removed by Filter", 0) <= 100 for n in scans), (statement, nodes)
            assert not [n for n in nodes if n["Node Type"] == "Sort"], (statement, nodes)
