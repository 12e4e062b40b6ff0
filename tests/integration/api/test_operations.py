"""What an operator relies on: health, readiness, metrics, clean logs, 503s, limits, DELETE."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from sqlalchemy import text

from session_events.app import create_app
from session_events.settings import load_settings
from tests.asgi import request, running
from tests.conftest import READ, READ_KEY, WRITE, WRITE_KEY
from tests.integration.api.api_helpers import (
    append_events,
    assert_problem,
    events_url,
    new_session,
    post_events,
    session_url,
)


def app_with(database_url: str, **env: str):
    settings = load_settings(
        {
            "EVENTS_DATABASE_URL": database_url,
            "EVENTS_READ_KEYS": READ_KEY,
            "EVENTS_WRITE_KEYS": WRITE_KEY,
            **env,
        }
    )
    return create_app(settings)


def metric(text_body: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text exposition."""
    for line in text_body.splitlines():
        if not line.startswith(name):
            continue
        sample, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample))
        if sample.split("{")[0] == name and found == labels:
            return float(value)
    raise AssertionError(f"no sample {name} {labels}")


# Health and readiness


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "alive"})


def test_readyz_says_ready_with_the_schema_revision(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["revision"] == "0006"


def test_readyz_is_503_while_the_schema_is_behind(tmp_path):
    app = app_with(f"sqlite:///{tmp_path}/fresh.db", EVENTS_AUTO_MIGRATE="false")
    with app.test_client() as fresh:
        response = fresh.get("/readyz")
    problem = assert_problem(response, 503, "Service Unavailable")
    assert "session-events migrate" in problem["detail"]
    assert response.headers["Retry-After"] == "1"


# Metrics


def test_metrics_count_requests_by_route_template_never_the_raw_path(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}] * 3)
    client.get(events_url(session_id), headers=READ)
    client.get(events_url(session_id, "per_page=0"), headers=READ)
    body = client.get("/metrics").text
    events = "/api/v2/sessions/{session_id}/events"
    assert (
        metric(body, "testboost_api_requests_total", method="GET", endpoint=events, status="200")
        >= 1
    )
    assert (
        metric(body, "testboost_api_requests_total", method="GET", endpoint=events, status="400")
        >= 1
    )
    assert (
        metric(body, "testboost_api_requests_total", method="POST", endpoint=events, status="201")
        >= 1
    )
    assert session_id not in body
    bucket = metric(
        body,
        "testboost_api_request_duration_seconds_bucket",
        method="POST",
        endpoint=events,
        status="201",
        le="+Inf",
    )
    assert bucket >= 1
    assert 'le="0.025"' in body  # buckets fit tens of milliseconds


def test_metrics_count_appended_events_once(client):
    def appended() -> float:
        return metric(client.get("/metrics").text, "testboost_events_appended_total")

    session_id = new_session(client)
    before = appended()
    batch = [
        {"event_type": "tick", "id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"},
        {"event_type": "tock"},
    ]
    append_events(client, session_id, batch)
    append_events(client, session_id, batch[:1])  # a retry stores nothing
    assert appended() - before == 2


def test_metrics_show_the_pool_and_no_waiters_at_rest(client):
    body = client.get("/metrics").text
    assert metric(body, "testboost_active_connections", kind="stream") == 0
    assert metric(body, "testboost_active_connections", kind="long_poll") == 0
    assert metric(body, "testboost_db_pool_in_use") == 0
    assert metric(body, "testboost_db_pool_size") == 10


# Logs


def test_no_api_key_or_event_payload_in_any_log_line(client, caplog, service_logs):
    secret_payload = "payload-4f1e2d-do-not-log"
    with caplog.at_level(logging.DEBUG):
        session_id = new_session(client)
        post_events(
            client, session_id, [{"event_type": "tick", "event_data": {"s": secret_payload}}]
        )
        post_events(client, session_id, [{"event_type": "BAD", "message": secret_payload}])
        client.get(events_url(session_id), headers=READ)
        client.get(events_url(session_id), headers={"X-API-Key": "wrong-" + secret_payload})
    lines = "\n".join(
        [f"{r.getMessage()} {r.__dict__}" for r in caplog.records] + list(map(repr, service_logs))
    )
    assert "request" in lines  # the access log did run
    for secret in (READ_KEY, WRITE_KEY, secret_payload):
        assert secret not in lines


# DELETE


def test_delete_removes_the_session_and_its_events(client):
    session_id, other = new_session(client), new_session(client)
    append_events(client, session_id, [{"event_type": "tick"}] * 5)
    append_events(client, other, [{"event_type": "tick"}] * 2)
    response = client.delete(session_url(session_id), headers=WRITE)
    assert (response.status_code, response.content) == (204, b"")
    for url in (session_url(session_id), events_url(session_id)):
        assert_problem(client.get(url, headers=READ), 404, "Not Found")
    assert_problem(client.delete(session_url(session_id), headers=WRITE), 404, "Not Found")
    assert client.get(events_url(other), headers=READ).json()["pagination"]["total"] == 2


def test_delete_needs_a_write_key(client):
    session_id = new_session(client)
    assert_problem(client.delete(session_url(session_id), headers=READ), 403, "Forbidden")
    assert client.get(session_url(session_id), headers=READ).status_code == 200


# Limits


def test_configured_limits_are_in_the_served_contract_and_enforced(database_url):
    app = app_with(
        database_url,
        EVENTS_MAX_EVENTS_PER_BATCH="3",
        EVENTS_MAX_MESSAGE_LENGTH="10",
        EVENTS_MAX_EVENT_DATA_BYTES="20",
    )
    with app.test_client() as limited:
        schemas = limited.get("/api/v2/openapi.json").json()["components"]["schemas"]
        assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == 3
        assert schemas["EventCreate"]["properties"]["message"]["maxLength"] == 10
        assert schemas["EventCreate"]["properties"]["event_data"]["x-max-bytes"] == 20
        session_id = new_session(limited)
        at_limits = {"event_type": "t", "message": "x" * 10, "event_data": {"k": "v" * 12}}
        assert post_events(limited, session_id, [at_limits] * 3).status_code == 201
        too_many = post_events(limited, session_id, [{"event_type": "t"}] * 4)
        assert "at most 3 items" in assert_problem(too_many, 400, "Bad Request")["detail"]
        too_long = post_events(limited, session_id, [{"event_type": "t", "message": "x" * 11}])
        assert "events[0].message" in assert_problem(too_long, 400, "Bad Request")["detail"]
        too_big = post_events(
            limited, session_id, [{"event_type": "t", "event_data": {"k": "v" * 13}}]
        )
        detail = assert_problem(too_big, 400, "Bad Request")["detail"]
        assert detail == "events[0].event_data is 21 bytes as JSON, more than the 20 allowed."


# The database out of reach


@pytest.fixture
async def running_app(database_url):
    app = app_with(database_url, EVENTS_DB_POOL_SIZE="1", EVENTS_DB_POOL_TIMEOUT="0.2")
    async with running(app) as state:
        yield app, state


EVENTS_OF_ANY = "/api/v2/sessions/00000000-0000-4000-8000-000000000000/events"


@pytest.mark.parametrize("holder", ["read", "read_direct"])
@pytest.mark.parametrize("path", ["/api/v2/sessions", EVENTS_OF_ANY])
async def test_a_saturated_pool_answers_503_with_retry_after(running_app, holder, path):
    """Whether Core or the hot path holds the only connection, and whichever asks next."""
    app, state = running_app
    async with getattr(state.database, holder)() as held:
        if holder == "read":  # the hot path's Runner holds its connection from the start
            await held.execute(text("SELECT 1"))
        sent = await asyncio.wait_for(request(app, state, "GET", path), timeout=10)
    start, body = sent[0], json.loads(sent[1]["body"])
    assert start["status"] == 503
    assert (b"retry-after", b"1") in start["headers"]
    assert body["title"] == "Service Unavailable"
    assert "EVENTS_DB_POOL_TIMEOUT" in body["detail"]
