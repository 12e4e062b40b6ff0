"""Every statement a read of the events endpoint runs uses an index on a 100k-event session.

The statements are captured as the API's own code runs them, then explained by the database with
the same parameters. PostgreSQL (EXPLAIN ANALYZE): no sequential scan of events, no rows read only
to be filtered out, no sort, no materialized CTE. SQLite (EXPLAIN QUERY PLAN): events are only
SEARCHed through an index, never SCANned, and no temporary b-tree sorts them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from session_events.db import sessions as db_sessions
from session_events.db.documents import format_timestamp
from session_events.db.engine import open_database
from session_events.db.tables import sessions
from session_events.settings import Settings
from tests.conftest import READ
from tests.statements import captured_statements

SESSIONS = 2
EVENTS_PER_SESSION = 100_000
TYPES = ("step_status_changed", "artifact_created", "llm_call_completed", "workflow_error")

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

# One event a millisecond from 2026-01-01, the four types in turn; the SQL differs per backend.
TYPE_OF_SEQ = "CASE {n} % 4 WHEN 0 THEN :t0 WHEN 1 THEN :t1 WHEN 2 THEN :t2 ELSE :t3 END"
FILL_EVENTS = {
    "postgresql": f"""
        INSERT INTO events (session_id, seq, id, event_type, event_data, message, timestamp)
        SELECT CAST(:session_id AS uuid), g, gen_random_uuid(), {TYPE_OF_SEQ.format(n="g")},
               '{{"step": "generate_tests"}}', 'message ' || g,
               timestamp '2026-01-01' + g * interval '1 millisecond'
        FROM generate_series(1, :n) g
    """,
    "sqlite": f"""
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n)
        INSERT INTO events (session_id, seq, id, event_type, event_data, message, timestamp)
        SELECT :session_id, n, lower(hex(randomblob(16))), {TYPE_OF_SEQ.format(n="n")},
               '{{"step": "generate_tests"}}', 'message ' || n,
               datetime('2026-01-01', '+' || (n / 1000) || ' seconds')
                   || printf('.%03d000', n % 1000)
        FROM g
    """,
}


@pytest.fixture
async def big_session(database, database_url):
    types = {f"t{i}": event_type for i, event_type in enumerate(TYPES)}
    session_ids = []
    # Filling takes seconds, more than the default statement timeout on a busy machine.
    filler = open_database(Settings(database_url=database_url, db_statement_timeout=300))
    for _ in range(SESSIONS):
        async with filler.write() as conn:
            session_id = (await db_sessions.create_session(conn, session_type="build"))["id"]
            key = str(session_id) if database.backend == "postgresql" else session_id.hex
            await conn.execute(
                text(FILL_EVENTS[database.backend]),
                {"session_id": key, "n": EVENTS_PER_SESSION, **types},
            )
            await conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(last_seq=EVENTS_PER_SESSION)
            )
        session_ids.append(session_id)
    async with filler.write() as conn:
        await conn.execute(text("ANALYZE"))
    await filler.dispose()
    return session_ids[0]


def statements_on_events(client, session_id: uuid.UUID) -> list[tuple[str, object]]:
    """Every SELECT on events the API runs for QUERIES, with its parameters."""
    since = format_timestamp(datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC))  # 90k events before it
    with captured_statements() as seen:
        for query in QUERIES:
            url = f"/api/v2/sessions/{session_id}/events?" + query.format(since=since)
            response = client.get(url, headers=READ)
            assert response.status_code == 200, response.text
            assert response.json()["items"], url
    captured = [
        (statement, parameters)
        for statement, parameters in seen
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "events" in statement
    ]
    assert len(captured) >= len(QUERIES), "the requests ran too few queries on events"
    return captured


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


async def assert_postgresql_plan(conn, statement, parameters) -> None:
    result = await conn.exec_driver_sql(
        f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", tuple(parameters)
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
    # The page reads its bounds laterally: a CTE would be materialized and read per reference.
    assert not [n for n in nodes if n["Node Type"] == "CTE Scan"], (statement, nodes)


async def assert_sqlite_plan(conn, statement, parameters) -> None:
    result = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    details = [row[3] for row in result.all()]
    on_events = [d for d in details if " events " in f" {d} "]
    assert on_events, (statement, details)
    assert all(d.startswith("SEARCH events USING") for d in on_events), (statement, details)
    assert not [d for d in details if "TEMP B-TREE" in d], (statement, details)


async def test_reads_use_indexes(database, big_session, client):
    captured = statements_on_events(client, big_session)
    check = assert_postgresql_plan if database.backend == "postgresql" else assert_sqlite_plan
    async with database.read() as conn:
        for statement, parameters in captured:
            await check(conn, statement, parameters)
