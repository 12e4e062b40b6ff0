"""One access log line per request, and the request id that ties a request's lines together."""

from __future__ import annotations

import re

from tests.conftest import READ, WRITE


def access_lines(service_logs) -> list[dict]:
    return [line for line in service_logs if line["event"] == "request"]


def test_each_request_logs_method_route_status_duration_and_session(client, service_logs):
    session_id = client.post("/api/v2/sessions", json={"session_type": "x"}, headers=WRITE).json()[
        "id"
    ]
    service_logs.clear()
    client.get(f"/api/v2/sessions/{session_id}/events?per_page=0", headers=READ)
    [line] = access_lines(service_logs)
    assert line["method"] == "GET"
    assert line["route"] == "GET /api/v2/sessions/{session_id}/events"
    assert line["status"] == 400
    assert line["session_id"] == session_id
    assert isinstance(line["duration_ms"], float)
    assert line["log_level"] == "info"
    assert READ["X-API-Key"] not in repr(line)


def test_a_well_formed_request_id_is_echoed_and_logged(client, service_logs):
    response = client.get("/api/v2/sessions", headers={**READ, "X-Request-ID": "abc-123.x"})
    assert response.headers["X-Request-ID"] == "abc-123.x"
    assert access_lines(service_logs)[-1]["request_id"] == "abc-123.x"


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


def test_the_demo_producer_requests_are_logged_at_debug(client, service_logs):
    client.get("/api/v2/sessions", headers={**READ, "X-Request-ID": "demo-7"})
    client.get("/api/v2/sessions", headers={**READ, "X-Request-ID": "other-7"})
    # The service logs at info: the demo's line is not written, the other one is.
    assert [line["request_id"] for line in access_lines(service_logs)] == ["other-7"]
