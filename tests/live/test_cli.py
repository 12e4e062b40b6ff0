"""The `session-events` command as a newcomer runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from session_events.db import migrate

CLI = [sys.executable, "-m", "session_events.cli"]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_migrate_brings_a_new_database_to_the_head(database_url):
    result = run_cli("migrate", EVENTS_DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    assert f"Database at revision {migrate.head_revision()}." in result.stdout


def test_a_bad_database_url_stops_with_a_readable_message():
    result = run_cli("migrate", EVENTS_DATABASE_URL="mysql://localhost/events")
    assert result.returncode == 2
    assert "EVENTS_DATABASE_URL must use sqlite or postgresql" in result.stderr


def test_serve_without_keys_prints_a_write_key_that_works(live_server):
    server = live_server(EVENTS_READ_KEYS="", EVENTS_WRITE_KEYS="")
    key = re.search(r"X-API-Key: (\S+)", server.output_once_it_shows("X-API-Key:")).group(1)
    response = httpx.post(
        f"{server.base_url}/api/v2/sessions",
        json={"session_type": "build"},
        headers={"X-API-Key": key},
    )
    assert response.status_code == 201
    assert server.output().count(key) == 1  # printed once, never logged


def test_serve_demo_prints_a_session_whose_events_arrive(live_server):
    server = live_server("--demo", EVENTS_READ_KEYS="", EVENTS_WRITE_KEYS="")
    deadline = time.monotonic() + 20  # for the output and the events both
    output = server.output_once_it_shows("Events:", timeout=20)
    key = re.search(r"X-API-Key: (\S+)", output).group(1)
    events_url = re.search(r"Events:\s+(\S+)", output).group(1)
    assert f"curl -H 'X-API-Key: {key}' '{events_url}?per_page=5'" in output
    session_id = events_url.split("/")[-2]
    watch_url = re.search(r"Watch it live in a browser.*\n\s+(\S+)", output).group(1)
    assert watch_url == f"{server.base_url}/viewer/#session={session_id}"  # no key in it
    seen = 0
    while seen < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = httpx.get(events_url, headers={"X-API-Key": key}).json()["pagination"]["total"]
    assert seen >= 3
    oldest = httpx.get(f"{events_url}?order=asc", headers={"X-API-Key": key}).json()["items"]
    assert [e["event_type"] for e in oldest[:2]] == ["status_changed", "workflow_started"]
    assert oldest[0]["event_data"]["new_status"] == "in_progress"


def test_prune_reports_what_it_removed(database_url):
    result = run_cli(
        "prune",
        "--older-than",
        "30d",
        "--status",
        "completed,failed",
        EVENTS_DATABASE_URL=database_url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "Pruned 0 session(s) and 0 event(s) that finished more than 30d ago with status "
        "completed, failed."
    )


def test_prune_refuses_unfinished_statuses_and_bad_ages(database_url):
    bad_status = run_cli(
        "prune", "--older-than", "30d", "--status", "in_progress", EVENTS_DATABASE_URL=database_url
    )
    assert bad_status.returncode == 2
    assert "--status takes finished statuses only" in bad_status.stderr
    bad_age = run_cli("prune", "--older-than", "a month", EVENTS_DATABASE_URL=database_url)
    assert bad_age.returncode == 2
    assert "--older-than must be a number and a unit" in bad_age.stderr


def test_version_and_an_out_of_range_port():
    version = run_cli("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("session-events ")
    port = run_cli("serve", "--port", "99999")
    assert port.returncode == 2
    assert "argument --port: must be from 1 to 65535, not 99999" in port.stderr


def test_prune_dry_run_lists_what_would_go_and_deletes_nothing(live_server, database_url):
    server = live_server(EVENTS_READ_KEYS="", EVENTS_WRITE_KEYS="w")
    sessions = f"{server.base_url}/api/v2/sessions"
    headers = {"X-API-Key": "w"}
    session_id = httpx.post(sessions, json={"session_type": "b"}, headers=headers).json()["id"]
    events = {"events": [{"event_type": "tick"}] * 3}
    httpx.post(f"{sessions}/{session_id}/events", json=events, headers=headers)
    for status in ("in_progress", "completed"):
        httpx.patch(f"{sessions}/{session_id}", json={"status": status}, headers=headers)
    time.sleep(1.1)
    result = run_cli("prune", "--older-than", "1s", "--dry-run", EVENTS_DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    listed, summary = result.stdout.strip().splitlines()
    assert listed.startswith(f"{session_id}  completed  finished 20")
    assert listed.endswith("  5 events")  # 3 ticks and two status changes
    assert summary.startswith("Would prune 1 session(s) and 5 event(s) that finished more than 1s")
    assert httpx.get(f"{sessions}/{session_id}", headers=headers).status_code == 200
    pruned = run_cli("prune", "--older-than", "1s", EVENTS_DATABASE_URL=database_url)
    assert "pruned 1 session(s), 5 event(s) so far" in pruned.stderr
    assert httpx.get(f"{sessions}/{session_id}", headers=headers).status_code == 404
