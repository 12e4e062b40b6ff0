"""One access log line per request, and the request id that ties a request's lines together."""

from __future__ import annotations

import logging
import re

from tests.conftest import READ, WRITE


def access_lines(caplog) -> list[dict]:
    return [r.msg for r in caplog.records if r.name == "session_events.access"]


def test_each_request_logs_method_route_status_duration_and_session(client, caplog):
    session_id = client.post("/api/v2/sessions", json={"session_type": "x"}, headers=WRITE).json()[
        "id"
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="session_events.access"):
        client.get(f"/api/v2/sessions/{session_id}/events?per_page=0", headers=READ)
    [line] = access_lines(caplog)
    assert line["method"] == "GET"
    assert line["route"] == "GET /api/v2/sessions/{session_id}/events"
    assert line["status"] == 400
    assert line["session_id"] == session_id
    assert isinstance(line["duration_ms"], float)
    assert READ["X-API-Key"] not in repr(caplog.records[-1].__dict__)


def test_a_well_formed_request_id_is_echoed_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="session_events.access"):
        response = client.get("/api/v2/sessions", headers={**READ, "X-Request-ID": "abc-123.x"})
    assert response.headers["X-Request-ID"] == "abc-123.x"
    assert access_lines(caplog)[-1]["request_id"] == "abc-123.x"


def test_a_missing_or_malformed_request_id_is_replaced(client):
    generated = client.get("/api/v2/sessions", headers=READ).headers["X-Request-ID"]
    replaced = client.get(
        "/api/v2/sessions", headers={**READ, "X-Request-ID": "bad id\twith spaces"}
    ).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert generated != replaced


def test_errors_carry_a_request_id_too(client):
    response = client.get("/api/v2/sessions")  # no key: 401
    assert response.status_code == 401
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_the_demo_producer_requests_are_logged_at_debug(client, caplog):
    with caplog.at_level(logging.INFO, logger="session_events.access"):
        client.get("/api/v2/sessions", headers={**READ, "X-Request-ID": "demo-7"})
    assert access_lines(caplog) == []
