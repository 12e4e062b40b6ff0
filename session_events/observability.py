"""What an operator sees: Prometheus metrics, /healthz and /readyz (outside /api/v2, no key).

Metrics live in a registry of the app's own (not prometheus_client's global one), so several apps
in one process (the tests) do not mix their figures.
"""

from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from session_events.app_state import AppState
from session_events.db import migrate
from session_events.problems import RETRY_AFTER_SECONDS, problem_json

# An API whose p95 target is tens of milliseconds; the top buckets catch long-polls.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
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
        self._state: AppState | None = None
        self._children: dict[tuple, tuple] = {}  # labels -> (histogram, counter) children
        self.registry.register(self)

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
        """Gauges read when scraped."""
        if self._state is None:
            return
        waiting = GaugeMetricFamily(
            "testboost_active_connections",
            "Streams and long-polls open right now.",
            labels=["kind"],
        )
        for kind, count in self._state.notifier.watching_by_kind().items():
            waiting.add_metric([kind], count)
        yield waiting
        yield GaugeMetricFamily(
            "testboost_sessions_stream_watchers",
            "Sessions streams (GET /sessions/stream) open right now.",
            value=self._state.sessions_hub.watchers,
        )
        database = self._state.database
        yield GaugeMetricFamily(
            "testboost_db_pool_in_use",
            "Database connections checked out of the pool.",
            value=database.pool_in_use(),
        )
        yield GaugeMetricFamily(
            "testboost_db_pool_size",
            "Database connections the pool may hold.",
            value=database.pool_size,
        )


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
            ready = {"status": "ready", "database": self.readiness.backend}
            body = orjson.dumps({**ready, "revision": self.readiness.head})
            return await _respond(send, 200, body, b"application/json")
        if path == "/metrics":
            body = generate_latest(self.metrics.registry)
            return await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode())
        return await self.app(scope, receive, send)
