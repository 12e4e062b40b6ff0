"""The live gauges and /readyz's body, replicas included, in one process and merged across worker
processes (prometheus_client's multiprocess files, as `serve --workers N` keeps them).

No replica can be had here: StubDatabase stands in for a Database with read replicas, answering
the three things the gauges read (the pool's size and use, replica_status()). The live suites
check the same gauges on a real server (tests/live/test_metrics_workers.py).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from session_events.handlers.sessions_hub import SessionsHub
from session_events.hubs import Hubs
from session_events.observability import Metrics, ready_body

ROOT = Path(__file__).parents[2]
UP = {"name": "replica-1:5432/events", "in_use": True, "lag_seconds": 0.25, "error": None}
DOWN = {
    "name": "replica-2:5432/events",
    "in_use": False,
    "lag_seconds": None,
    "error": "The replica cannot be reached (ConnectionRefusedError).",
}


class StubDatabase:
    """Stands in for a Database with read replicas (see the module's docstring)."""

    def __init__(self, pool_size: int, in_use: int, replicas: list[dict]):
        self.pool_size = pool_size
        self.in_use = in_use
        self.replicas = replicas

    def pool_in_use(self) -> int:
        return self.in_use

    def replica_status(self) -> list[dict]:
        return self.replicas


def state(database: StubDatabase) -> SimpleNamespace:
    """The parts of an AppState the gauges read: real hubs (none watched) and the stub database."""
    return SimpleNamespace(
        hubs=Hubs(database, None, heartbeat=1, queue_bytes=1),
        sessions_hub=SessionsHub(database, None, 1),
        database=database,
    )


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_one_process_shows_each_replica_with_its_lag_and_use():
    metrics = Metrics()
    metrics.bind(state(StubDatabase(10, 3, [UP, DOWN])))
    scraped = samples(metrics.exposition().decode())
    assert scraped[("testboost_replica_lag_seconds", (("replica", UP["name"]),))] == 0.25
    assert math.isnan(scraped[("testboost_replica_lag_seconds", (("replica", DOWN["name"]),))])
    assert scraped[("testboost_replica_in_use", (("replica", UP["name"]),))] == 1
    assert scraped[("testboost_replica_in_use", (("replica", DOWN["name"]),))] == 0
    assert scraped[("testboost_db_pool_in_use", ())] == 3


def test_without_replicas_no_replica_gauge_shows():
    metrics = Metrics()
    metrics.bind(state(StubDatabase(10, 0, [])))
    text = metrics.exposition().decode()
    assert "testboost_db_pool_size 10.0" in text
    assert "replica" not in text


def test_readyz_lists_replicas_and_stays_ready_with_one_down():
    probe = SimpleNamespace(backend="postgresql", head="0007")
    assert ready_body(probe, []) == {
        "status": "ready",
        "database": "postgresql",
        "revision": "0007",
    }
    body = ready_body(probe, [{**UP, "internal": "not shown"}, DOWN])
    assert body["status"] == "ready"
    assert body["replicas"] == [UP, DOWN]


# A worker process: its figures written to the multiprocess files, then it exits.
WORKER = """
import json, sys
from tests.unit.test_metrics import StubDatabase, state
from session_events.observability import Metrics
pool_size, in_use, replicas = json.loads(sys.argv[2])
metrics = Metrics(sys.argv[1])
metrics.bind(state(StubDatabase(pool_size, in_use, replicas)))
metrics.observe("GET", "/api/v2/sessions", 200, 0.002)
metrics.publish()
print(__import__("os").getpid())
"""


def worker(directory: Path, pool_size: int, in_use: int, replicas: list[dict]) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    argv = [sys.executable, "-c", WORKER, str(directory), json.dumps([pool_size, in_use, replicas])]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def merged(directory: Path) -> dict[tuple[str, tuple], float]:
    """What a scrape of any worker shows (Metrics.exposition in a worker reads the same)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return samples(generate_latest(registry).decode())


def test_workers_gauges_merge_by_their_mode_and_leave_with_the_worker(tmp_path):
    first = worker(tmp_path, 10, 2, [UP])
    second = worker(tmp_path, 10, 5, [{**UP, "lag_seconds": 1.5, "in_use": False}])
    scraped = merged(tmp_path)
    # Counts of the server's things add up; counters too.
    assert scraped[("testboost_db_pool_size", ())] == 20
    assert scraped[("testboost_db_pool_in_use", ())] == 7
    requests = ("endpoint", "/api/v2/sessions"), ("method", "GET"), ("status", "200")
    assert scraped[("testboost_api_requests_total", requests)] == 2
    # Each worker's view of a replica is its own: a lag is not summed.
    lag = "testboost_replica_lag_seconds"
    assert scraped[(lag, (("pid", first), ("replica", UP["name"])))] == 0.25
    assert scraped[(lag, (("pid", second), ("replica", UP["name"])))] == 1.5
    assert scraped[("testboost_replica_in_use", (("pid", second), ("replica", UP["name"])))] == 0

    mark_process_dead(int(second), str(tmp_path))  # as `serve` does when a worker exits
    scraped = merged(tmp_path)
    assert scraped[("testboost_db_pool_in_use", ())] == 2
    assert (lag, (("pid", second), ("replica", UP["name"]))) not in scraped
    assert scraped[("testboost_api_requests_total", requests)] == 2  # what it served stays


def test_files_not_named_by_the_variable_are_refused(tmp_path, monkeypatch):
    """prometheus_client chose memory or files when imported, from PROMETHEUS_MULTIPROC_DIR; a
    directory it does not name would be scraped empty while the figures stayed in memory."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        Metrics(str(tmp_path))
