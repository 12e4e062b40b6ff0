"""A short locust run of perf/locustfile.py against a live server on PostgreSQL.

100 users (pollers, initial loads, troubleshooters, producers, stream listeners) for 20 s on an
empty database: the locustfile creates its sessions through the API. Locust is gevent-based, so
it runs as a subprocess and is never imported here. The pass mark is the locustfile's own
(exit code 0: no failure, p95 <= 500 ms), checked again from its CSV.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.live_server import READ_KEY, WRITE_KEY

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).parent / "locust"


def test_100_users_for_20s_without_failures_and_p95_under_500ms(live_server, tmp_path):
    server = live_server()
    command = [
        str(LOCUST), "-f", str(ROOT / "perf" / "locustfile.py"), "--host", server.base_url,
        "--headless", "-u", "100", "-r", "50", "-t", "20s", "--csv", str(tmp_path / "locust"),
        "--only-summary",
    ]  # fmt: skip
    env = {**os.environ, "EVENTS_WRITE_KEYS": WRITE_KEY, "EVENTS_READ_KEYS": READ_KEY}
    env.pop("PERF_MANIFEST", None)
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    print(run.stderr[-3000:])  # locust's summary, shown with `pytest -s`
    assert run.returncode == 0, run.stderr[-3000:]

    with (tmp_path / "locust_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    total = rows["Aggregated"]
    assert int(total["Request Count"]) >= 500
    assert int(total["Failure Count"]) == 0
    assert float(total["95%"]) <= 500
    for name in ("poll (after_seq, If-None-Match)", "append (10 events)", "stream (5 frames)"):
        assert int(rows[name]["Request Count"]) > 0, name
    left = httpx.get(f"{server.base_url}/api/v2/sessions", headers={"X-API-Key": READ_KEY})
    assert left.json()["pagination"]["total"] == 0  # the run deleted what it created


def test_keep_sessions_leaves_what_the_run_created_marked_as_load(live_server, tmp_path):
    """Run as `make load` runs it: no key exported, the keys taken from .data/ where `make run`
    keeps them."""
    server = live_server()
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "write-key").write_text(WRITE_KEY + "\n")
    (tmp_path / ".data" / "read-key").write_text(READ_KEY + "\n")
    command = [
        str(LOCUST), "-f", str(ROOT / "perf" / "locustfile.py"), "--host", server.base_url,
        "--headless", "-u", "4", "-r", "4", "-t", "6s", "--only-summary", "--keep-sessions",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTS_", "PERF_"))}
    run = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    left = httpx.get(
        f"{server.base_url}/api/v2/sessions?per_page=100", headers={"X-API-Key": READ_KEY}
    ).json()
    assert left["pagination"]["total"] >= 3  # the seeded sessions at least
    assert {s["session_type"] for s in left["items"]} == {"load_test"}
