"""What stops `serve`, `migrate` and `prune` from starting is one line naming what to fix."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from session_events.startup_checks import base_url
from support.pg_server import free_port
from tests.live.test_cli import CLI, run_cli


def only_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback
    return lines[0]


def test_a_port_in_use_stops_serve_before_anything_is_made_on_disk(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    database = tmp_path / "new" / "events.db"
    try:
        result = run_cli("serve", "--port", str(port), EVENTS_DATABASE_URL=f"sqlite:///{database}")
    finally:
        taken.close()
    assert result.returncode == 1
    assert only_line(result) == (
        f"session-events serve: cannot listen on 127.0.0.1 port {port} (--host, --port): "
        "Address already in use"
    )
    assert not database.parent.exists()


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["prune", "--older-than", "30d"]])
def test_a_database_refusing_connections_is_named_with_the_cause(command):
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/events"
    options = ["--port", str(free_port())] if command == ["serve"] else []
    result = run_cli(*command, *options, EVENTS_DATABASE_URL=url)
    assert result.returncode == 1
    line = only_line(result)
    assert line.startswith(f"session-events {command[0]}: EVENTS_DATABASE_URL names ")
    assert "nobody:***@127.0.0.1" in line and "secret" not in line
    assert line.endswith(
        "connection refused (nothing listens there: is the database server running?)"
    )


def test_an_unknown_database_is_named_with_the_servers_own_words(postgres):
    server = postgres.require().rsplit("/", 1)[0]
    result = run_cli(
        "migrate", EVENTS_DATABASE_URL=f"postgres://{server.split('://', 1)[1]}/nosuch"
    )
    assert result.returncode == 1
    assert only_line(result).endswith('which cannot be used: database "nosuch" does not exist')


def test_a_sqlite_file_whose_folder_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("migrate", EVENTS_DATABASE_URL=f"sqlite:///{blocker}/events.db")
    assert result.returncode == 1
    assert only_line(result) == (
        f"session-events migrate: EVENTS_DATABASE_URL names sqlite:///{blocker}/events.db, "
        "whose folder cannot be made (File exists)"
    )


def test_the_traceback_is_shown_at_debug_level():
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/events"
    result = run_cli("migrate", EVENTS_DATABASE_URL=url, EVENTS_LOG_LEVEL="debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_urls_of_ipv6_hosts_put_the_address_in_brackets():
    assert base_url("::1", 8070) == "http://[::1]:8070"
    assert base_url("127.0.0.1", 8070) == "http://127.0.0.1:8070"


def test_prune_on_a_database_never_migrated_says_to_migrate(tmp_path):
    url = f"sqlite:///{tmp_path}/new.db"
    result = run_cli("prune", "--older-than", "30d", EVENTS_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"session-events prune: EVENTS_DATABASE_URL names {url}, whose tables are at revision "
        "(none), not 0006: run session-events migrate"
    )


def test_an_age_reaching_past_the_year_one_is_refused(tmp_path):
    result = run_cli("prune", "--older-than", "9999999999d")
    assert result.returncode == 2
    assert only_line(result).endswith("'9999999999d' reaches back past the year 1")


def test_a_kept_key_that_cannot_be_read_is_one_line(tmp_path):
    (tmp_path / ".data" / "write-key").mkdir(parents=True)
    result = subprocess.run(
        [*CLI, "serve", "--port", str(free_port())],
        env={k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert only_line(result).startswith(
        "session-events serve: the key kept in .data/write-key cannot be read or written"
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("EVENTS_CORS_ORIGINS", "dash.example", "such as https://dash.example"),
        ("EVENTS_WRITE_KEYS", " , ", "holds no entry"),
    ],
)
def test_a_setting_that_would_refuse_every_request_stops_serve_with_status_2(variable, value, says):
    result = run_cli("serve", "--port", str(free_port()), **{variable: value})
    assert result.returncode == 2  # a usage error, as argparse's are
    line = only_line(result)
    assert line.startswith(f"session-events: {variable} ")
    assert says in line
