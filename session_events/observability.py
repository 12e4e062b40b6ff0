"""What an operator sees: Prometheus metrics, /healthz and /readyz (outside /api/v2, no key).

Metrics live in a registry of the app's own (not prometheus_client's global one), so several apps
in one process (the tests) do not mix their figures. Under `serve --workers N` each worker's
figures go to prometheus_client's multiprocess files in a directory `serve` makes, and a scrape of
any worker reads them all (one app per process there: the files are kept by process id).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterator

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from session_events import app_state
from session_events.app_state import AppState
from session_events.db import migrate
from session_events.problems import RETRY_AFTER_SECONDS, problem_json

log = structlog.get_logger("session_events")

# Where prometheus_client keeps the figures of several processes (read when it is imported).
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# An API whose p95 target is tens of milliseconds; the top buckets catch long-polls.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# The gauges read from the app's state: help, label names, and how a scrape of several worker
# processes combines them (prometheus_client's multiprocess_mode; `live` drops an exited worker's).
# Counts of this server's things add up across workers (livesum; the pool size too, so that in
# use / size stays a fraction of the server's connections). Each worker measures and routes to
# the replicas itself, so their gauges keep each worker's view (liveall: a `pid` label): a sum
# means nothing for a lag, and max/min cannot merge an unknown lag (NaN) in an order-free way.
LIVE_GAUGES = {
    "testboost_active_connections": (
        "Streams and long-polls open right now.",
        ("kind",),
        "livesum",
    ),
    "testboost_watched_sessions": (
        "Sessions with a hub in a server process: watched by a stream or a long-poll (counted "
        "once per worker process that watches it).",
        (),
        "livesum",
    ),
    "testboost_stream_bytes_queued": (
        "Bytes offered to streams and not yet handed to their sockets.",
        (),
        "livesum",
    ),
    "testboost_sessions_stream_watchers": (
        "Sessions streams (GET /sessions/stream) open right now.",
        (),
        "livesum",
    ),
    "testboost_db_pool_in_use": ("Database connections checked out of the pools.", (), "livesum"),
    "testboost_db_pool_size": ("Database connections the pools may hold.", (), "livesum"),
    "testboost_replica_lag_seconds": (
        "How far a read replica's replay is behind the primary, as a server process last "
        "measured it (NaN while unknown).",
        ("replica",),
        "liveall",
    ),
    "testboost_replica_in_use": (
        "1 while a server process sends reads to the replica, 0 while it skips it.",
        ("replica",),
        "liveall",
    ),
}
# What /readyz says of each replica.
REPLICA_FIELDS = ("name", "in_use", "lag_seconds", "error")


def live_values(state: AppState) -> Iterator[tuple[str, tuple[str, ...], float]]:
    """Each live gauge's (name, label values, value) in this process now."""
    live = state.hubs.counts()
    for kind in ("long_poll", "stream"):
        yield "testboost_active_connections", (kind,), live[kind]
    yield "testboost_watched_sessions", (), live["sessions"]
    yield "testboost_stream_bytes_queued", (), live["bytes"]
    yield "testboost_sessions_stream_watchers", (), state.sessions_hub.watchers
    database = state.database
    yield "testboost_db_pool_in_use", (), database.pool_in_use()
    yield "testboost_db_pool_size", (), database.pool_size
    for replica in database.replica_status():
        lag = replica["lag_seconds"]
        yield "testboost_replica_lag_seconds", (replica["name"],), math.nan if lag is None else lag
        yield "testboost_replica_in_use", (replica["name"],), float(replica["in_use"])


class Metrics:
    """The app's metrics. With `multiprocess_dir` (which prometheus_client's
    PROMETHEUS_MULTIPROC_DIR must name, so that counters and histograms are kept in files
    there), live gauges are published to the files too and a scrape reads every process's."""

    def __init__(self, multiprocess_dir: str | None = None):
        if multiprocess_dir and os.environ.get(MULTIPROC_VARIABLE) != multiprocess_dir:
            # prometheus_client picks in-memory or file values once, from the variable
            raise RuntimeError(f"{MULTIPROC_VARIABLE} must be {multiprocess_dir} before import")
        self.registry = CollectorRegistry()
        self.multiprocess_dir = multiprocess_dir
        labels = ["method", "endpoint", "status"]
        self.duration = Histogram(
            "testboost_api_request_duration_seconds",
            "Time to answer a request (streams: until they end), by route template.",
            labels,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "testboost_api_requests",
            "Requests answered, by route template and status.",
            labels,
            registry=self.registry,
        )
        self.appended = Counter(
            "testboost_events_appended",
            "Events stored by appends (retried events that were already stored not counted).",
            registry=self.registry,
        )
        self.delivery = Histogram(
            "testboost_stream_delivery_seconds",
            "Time from an append's commit to its bytes handed to a watching stream's socket.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.ended_slow = Counter(
            "testboost_streams_ended_slow",
            "Streams ended because their client read too slowly to keep up.",
            registry=self.registry,
        )
        self._state: AppState | None = None
        self._children: dict[tuple, tuple] = {}  # labels -> (histogram, counter) children
        if multiprocess_dir is None:
            self.registry.register(self)  # live gauges read at scrape time
            self._scraped = self.registry
        else:
            self._gauges = {
                name: Gauge(name, text, labels, multiprocess_mode=mode, registry=None)
                for name, (text, labels, mode) in LIVE_GAUGES.items()
            }
            self._scraped = CollectorRegistry()
            MultiProcessCollector(self._scraped, path=multiprocess_dir)

    def bind(self, state: AppState) -> None:
        """Read live gauges (waiting requests, pool) from the running app's state."""
        self._state = state

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        # labels() validates and locks on every call; the set of label values is small.
        children = self._children.get((method, endpoint, status))
        if children is None:
            labels = (method, endpoint, str(status))
            children = self._children[(method, endpoint, status)] = (
                self.duration.labels(*labels),
                self.requests.labels(*labels),
            )
        children[0].observe(seconds)
        children[1].inc()

    def collect(self):
        """Gauges read when scraped (one process)."""
        if self._state is None:
            return
        families: dict[str, GaugeMetricFamily] = {}
        for name, labels, value in live_values(self._state):
            family = families.get(name)
            if family is None:
                text, label_names, _mode = LIVE_GAUGES[name]
                family = families[name] = GaugeMetricFamily(name, text, labels=label_names)
            family.add_metric(labels, value)
        yield from families.values()

    def publish(self) -> None:
        """Write this process's live gauges to its multiprocess files."""
        if self._state is None:
            return
        for name, labels, value in live_values(self._state):
            gauge = self._gauges[name]
            (gauge.labels(*labels) if labels else gauge).set(value)

    async def publish_every(self, seconds: float) -> None:
        """Keep this process's live gauges in the files at most `seconds` old for the scrapes
        other workers answer."""
        while True:
            try:
                self.publish()
            except Exception:  # a gauge that cannot be read now must not stop the others later
                log.exception("metrics_publish_failed")
            await asyncio.sleep(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text of a scrape: this process's, or every worker's."""
        if self.multiprocess_dir is not None:
            self.publish()  # this worker's figures as of now, the others' at most a second old
        return generate_latest(self._scraped)


async def _respond(send, status: int, body: bytes, content_type: bytes, headers=()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", b"%d" % len(body)),  # not chunked, which HTTP/1.0 lacks
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _readiness(probe: migrate.RevisionProbe) -> str | None:
    """None when ready, else why not."""
    try:
        revision = await probe.revision()
    except Exception as error:  # whatever keeps the database from answering
        return f"The database cannot be reached ({type(error).__name__})."
    if revision != probe.head:
        return (
            f"The database schema is at revision {revision}; this version needs "
            f"{probe.head}. Run `session-events migrate`."
        )
    return None


def ready_body(probe: migrate.RevisionProbe, replicas: list[dict]) -> dict:
    """/readyz's 200 body; replicas are listed, never a reason to be unready (reads they cannot
    take go to the primary)."""
    body = {"status": "ready", "database": probe.backend, "revision": probe.head}
    if replicas:
        body["replicas"] = [{key: replica[key] for key in REPLICA_FIELDS} for replica in replicas]
    return body


class OpsEndpoints:
    """GET /healthz (the process answers), /readyz (the database too), /metrics."""

    def __init__(self, app, *, metrics: Metrics, readiness: migrate.RevisionProbe):
        self.app = app
        self.metrics = metrics
        self.readiness = readiness

    async def __call__(self, scope, receive, send):
        path = scope.get("path") if scope["type"] == "http" else None
        if path == "/healthz":
            return await _respond(send, 200, b'{"status":"alive"}', b"application/json")
        if path == "/readyz":
            unready = await _readiness(self.readiness)
            if unready:
                retry = [(b"retry-after", b"%d" % RETRY_AFTER_SECONDS)]
                body = problem_json(503, unready)
                return await _respond(send, 503, body, b"application/problem+json", retry)
            replicas = app_state.database().replica_status()
            body = orjson.dumps(ready_body(self.readiness, replicas))
            return await _respond(send, 200, body, b"application/json")
        if path == "/metrics":
            body = self.metrics.exposition()
            return await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode())
        return await self.app(scope, receive, send)
