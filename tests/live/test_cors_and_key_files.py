"""A page on another origin calls the API (CORS); keys come from files (the secrets convention)."""

from __future__ import annotations

import httpx

from tests.live.test_cli import run_cli

DASHBOARD = "https://dashboard.example"


def test_a_preflight_from_an_allowed_origin_is_answered_with_what_the_page_may_send(live_server):
    server = live_server(EVENTS_CORS_ORIGINS=f"{DASHBOARD},https://other.example")
    preflight = httpx.options(
        f"{server.base_url}/api/v2/sessions/00000000-0000-4000-8000-000000000000/events",
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"x-api-key", "content-type", "if-none-match", "last-event-id", "events-position"} <= {
        h.strip() for h in allowed.split(",")
    }


def test_answers_to_an_allowed_origin_expose_the_headers_clients_read(live_server):
    server = live_server(EVENTS_CORS_ORIGINS=DASHBOARD, EVENTS_READ_KEYS="r")
    response = httpx.get(
        f"{server.base_url}/api/v2/sessions", headers={"Origin": DASHBOARD, "X-API-Key": "r"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    exposed = {
        h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"etag", "link", "location", "x-request-id", "retry-after", "events-position"} <= exposed
    refused = httpx.get(f"{server.base_url}/api/v2/sessions", headers={"Origin": DASHBOARD})
    assert refused.status_code == 401  # a refusal the page can read
    assert refused.headers["Access-Control-Allow-Origin"] == DASHBOARD


def test_other_origins_and_servers_without_origins_grant_nothing(live_server):
    server = live_server(EVENTS_CORS_ORIGINS=DASHBOARD)
    preflight = httpx.options(
        f"{server.base_url}/api/v2/sessions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 400
    assert "Access-Control-Allow-Origin" not in preflight.headers
    plain = live_server(EVENTS_READ_KEYS="r")
    preflight = httpx.options(
        f"{plain.base_url}/api/v2/sessions",
        headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_keys_from_files_are_the_keys_the_server_takes(live_server, tmp_path):
    (tmp_path / "read").write_text("reader-key\n")
    (tmp_path / "write").write_text("\nwriter-key\n")
    server = live_server(
        EVENTS_READ_KEYS="",
        EVENTS_WRITE_KEYS="",
        EVENTS_READ_KEYS_FILE=str(tmp_path / "read"),
        EVENTS_WRITE_KEYS_FILE=str(tmp_path / "write"),
    )
    sessions = f"{server.base_url}/api/v2/sessions"
    created = httpx.post(sessions, json={"session_type": "b"}, headers={"X-API-Key": "writer-key"})
    assert created.status_code == 201
    assert httpx.get(sessions, headers={"X-API-Key": "reader-key"}).status_code == 200
    read_only = httpx.post(
        sessions, json={"session_type": "b"}, headers={"X-API-Key": "reader-key"}
    )
    assert read_only.status_code == 403
    assert "No EVENTS_READ_KEYS or EVENTS_WRITE_KEYS set" not in server.output()


def test_a_missing_keys_file_stops_serve_with_one_line_naming_the_variable(tmp_path):
    result = run_cli("serve", EVENTS_WRITE_KEYS_FILE=str(tmp_path / "absent"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"session-events: EVENTS_WRITE_KEYS_FILE names {tmp_path / 'absent'}, which cannot be "
        "read (No such file or directory)"
    ]
