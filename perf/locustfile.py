"""Load the service the way its clients do: a fleet of pollers, plus the occasional initial
load, troubleshooter, producer and stream listener.

    EVENTS_WRITE_KEYS=... [EVENTS_READ_KEYS=...] \\
    .venv/bin/locust -f perf/locustfile.py --host http://127.0.0.1:8000 --headless \\
        -u 100 -r 50 -t 60s --csv perf/out/locust [--manifest .data/perf-manifest.json] \\
        [--keep-sessions]

The keys come from the server's own variables (the first key of each list; reads use the write
key when no read key is set), or else from .data/, where `make run` keeps its keys: in a clone
with `make run` serving, `make load` runs 30 s of this fleet against it.

Users (weights in the class attributes):
- Poller: every 2 s asks for what follows its cursor (after_seq, oldest first, per_page=100)
  with If-None-Match of its last answer; it starts from the session's latest seq.
- InitialLoad: opens a session: its newest 100 events.
- Troubleshooter: event_type=workflow_error filters and deep pages (page=50, per_page=100).
- Producer: appends batches of 10 events to a session of its own.
- StreamListener: opens the SSE stream a few events back, reads a few frames, hangs up.

Sessions come from the manifest of perf/generate.py (--manifest or PERF_MANIFEST); without one,
the test start creates a few sessions of 5,100 events through the Python client, so a run works on
an empty database. Every session the run creates has session_type `load_test` and is deleted when
the run stops, unless --keep-sessions. The run fails (exit code 1) on any failed request, on no
request at all, or on a p95 over --max-p95-ms (500). Run it as a command: it is gevent-based,
not to be imported by the tests.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import time
import urllib.request
from pathlib import Path

import gevent
from locust import FastHttpUser, between, constant, events, task
from locust.runners import MasterRunner
from session_events_client import Client, Refused

API = "/api/v2/sessions"
SEED_SESSIONS = 3
SEED_EVENTS = 5_100  # enough for page 50 of 100
ERROR_EVERY = 60  # about 1.7% workflow_error events


SESSION_TYPE = "load_test"  # marks what a run created


def _first_key(variable: str) -> str:
    return next((k.strip() for k in os.environ.get(variable, "").split(",") if k.strip()), "")


def _kept_key(kind: str) -> str:
    """The key `make run` keeps in .data/ when no key is configured, if this is its folder."""
    kept = Path(".data") / f"{kind}-key"
    return kept.read_text().strip() if kept.is_file() else ""


def read_key() -> str:
    return _first_key("EVENTS_READ_KEYS") or _kept_key("read") or write_key()


def write_key() -> str:
    key = _first_key("EVENTS_WRITE_KEYS") or _kept_key("write")
    if not key:
        raise SystemExit(
            "Set EVENTS_WRITE_KEYS (and EVENTS_READ_KEYS) as for the server, or run from the "
            "folder where `make run` keeps .data/write-key."
        )
    return key


class Sessions:
    """The sessions the users read: id -> latest seq when the run started."""

    big: dict[str, int] = {}  # >= 5,000 events: initial loads, troubleshooting, deep pages
    watched: dict[str, int] = {}  # what pollers and stream listeners follow
    created: list[str] = []  # what this process created, to delete at the end


@events.init_command_line_parser.add_listener
def _arguments(parser):
    parser.add_argument(
        "--manifest",
        env_var="PERF_MANIFEST",
        default="",
        help="perf/generate.py's manifest; without one, sessions are created",
    )
    parser.add_argument(
        "--keep-sessions",
        action="store_true",
        default=False,
        help="leave the sessions the run created (session_type load_test) in the database",
    )
    parser.add_argument(
        "--max-p95-ms",
        type=float,
        default=500.0,
        help="fail the run when the p95 of all requests is above this",
    )


def event(n: int) -> dict:
    if n % ERROR_EVERY == 0:
        return {
            "event_type": "workflow_error",
            "event_data": {
                "error": "CompilationError",
                "class_name": "OwnerController",
                "file_path": "src/test/java/owner/OwnerControllerTest.java",
                "line": n,
            },
            "message": "OwnerControllerTest does not compile: cannot find symbol",
        }
    kind = ("llm_call", "test_generated", "test_passed", "file_written")[n % 4]
    return {
        "event_type": kind,
        "event_data": {
            "class_name": "org.springframework.samples.petclinic.owner.OwnerController",
            "prompt_tokens": 1000 + n % 7000,
            "completion_tokens": 200 + n % 900,
            "duration_ms": 900 + n % 20000,
            "model": "claude-sonnet-4",
        },
        "message": f"{kind} for OwnerController",
    }


def create_sessions(host: str) -> None:
    """The sessions a run without a manifest reads, made through the Python client."""
    with Client(host, api_key=write_key(), timeout=60) as client:
        for _ in range(SEED_SESSIONS):
            session = client.create_session(SESSION_TYPE, "/repos/petclinic")
            Sessions.created.append(str(session.id))
            for start in range(1, SEED_EVENTS + 1, 1000):
                batch = [event(n) for n in range(start, min(start + 1000, SEED_EVENTS + 1))]
                client.append_events(session.id, batch)
            Sessions.big[str(session.id)] = SEED_EVENTS
    Sessions.watched.update(Sessions.big)


@events.test_start.add_listener
def _sessions(environment, **_kwargs):
    if isinstance(environment.runner, MasterRunner):
        return  # the workers load (and create) sessions
    manifest = environment.parsed_options.manifest if environment.parsed_options else ""
    if manifest:
        data = json.loads(Path(manifest).read_text())
        Sessions.big = {s["id"]: s["latest_seq"] for s in data["sessions_10k"]}
        Sessions.watched = {
            **Sessions.big,
            **{s["id"]: s["latest_seq"] for s in data["sessions_1k"]},
        }
    else:
        started = time.monotonic()
        create_sessions(environment.host)
        logging.info("Created %d sessions in %.1f s", len(Sessions.big), time.monotonic() - started)


@events.test_stop.add_listener
def _clean_up(environment, **_kwargs):
    if isinstance(environment.runner, MasterRunner):
        return
    if environment.parsed_options and environment.parsed_options.keep_sessions:
        logging.info("Kept %d sessions (session_type %s)", len(Sessions.created), SESSION_TYPE)
        return
    with Client(environment.host, api_key=write_key(), timeout=60) as client:
        for session in Sessions.created:
            try:
                client.delete_session(session)
            except Refused as refused:
                if refused.status != 404:
                    raise
    logging.info("Deleted the %d sessions this run created", len(Sessions.created))
    Sessions.created.clear()


@events.quitting.add_listener
def _verdict(environment, **_kwargs):
    total = environment.stats.total
    limit = environment.parsed_options.max_p95_ms if environment.parsed_options else 500.0
    p95 = total.get_response_time_percentile(0.95) or 0
    if total.num_requests == 0:
        logging.error("Fail: no requests were made")
        environment.process_exit_code = 1
    elif total.fail_ratio > 0:
        logging.error("Fail: %d of %d requests failed", total.num_failures, total.num_requests)
        environment.process_exit_code = 1
    elif p95 > limit:
        logging.error("Fail: p95 %.0f ms is over %.0f ms", p95, limit)
        environment.process_exit_code = 1
    else:
        logging.info("Pass: %d requests, p95 %.0f ms", total.num_requests, p95)


class Reader(FastHttpUser):
    abstract = True

    def get(self, path: str, name: str, **kwargs):
        headers = {"X-API-Key": read_key(), **kwargs.pop("headers", {})}
        return self.client.get(path, name=name, headers=headers, **kwargs)

    def get_big_session_events(self, query: str, name: str):
        """A page of one of the big sessions' events."""
        session = random.choice(list(Sessions.big))
        return self.get(f"{API}/{session}/events?{query}", name)


class Poller(Reader):
    """A browser tab on a session, polling every 2 s from the latest event on."""

    weight = 60
    wait_time = constant(2)

    def on_start(self):
        self.session, self.cursor = random.choice(list(Sessions.watched.items()))
        self.etag = None

    @task
    def poll(self):
        headers = {"If-None-Match": self.etag} if self.etag else {}
        path = f"{API}/{self.session}/events?after_seq={self.cursor}&order=asc&per_page=100"
        with self.get(
            path, "poll (after_seq, If-None-Match)", headers=headers, catch_response=True
        ) as response:
            if response.status_code == 304:
                response.success()
            elif response.status_code == 200:
                self.etag = response.headers.get("etag")
                items = response.json()["items"]
                if items:
                    self.cursor = items[-1]["seq"]


class InitialLoad(Reader):
    weight = 10
    wait_time = between(1, 3)

    @task
    def initial(self):
        self.get_big_session_events("per_page=100", "initial (per_page=100)")


class Troubleshooter(Reader):
    weight = 5
    wait_time = between(1, 3)

    @task(2)
    def errors(self):
        self.get_big_session_events(
            "event_type=workflow_error&per_page=20", "troubleshoot (event_type=workflow_error)"
        )

    @task(1)
    def deep_page(self):
        self.get_big_session_events("page=50&per_page=100", "deep page (page=50)")


class Producer(FastHttpUser):
    """A workflow run appending batches of 10 events to its own session."""

    weight = 10
    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.headers = {"X-API-Key": write_key()}
        response = self.client.post(
            API,
            json={"session_type": SESSION_TYPE},
            headers=self.headers,
            name="create session",
        )
        self.session = response.json()["id"]
        Sessions.created.append(self.session)
        self.counter = itertools.count(1)

    @task
    def append(self):
        batch = [event(next(self.counter)) for _ in range(10)]
        self.client.post(
            f"{API}/{self.session}/events",
            json={"events": batch},
            headers=self.headers,
            name="append (10 events)",
        )


class StreamListener(Reader):
    """Opens the SSE stream five events back, reads those frames, and hangs up."""

    weight = 5
    wait_time = between(1, 3)
    frames = 5

    @task
    def listen(self):
        session, latest = random.choice(list(Sessions.watched.items()))
        path = f"{API}/{session}/events/stream?after_seq={max(latest - self.frames, 0)}"
        request = urllib.request.Request(self.host + path, headers={"X-API-Key": read_key()})
        started, buffer, error = time.perf_counter(), b"", None
        try:
            # Its own connection, as a browser's EventSource has, closed when the frames are in.
            with gevent.Timeout(10), urllib.request.urlopen(request, timeout=10) as response:
                while buffer.count(b"\nid: ") < self.frames:
                    chunk = response.read1(64)
                    if not chunk:
                        raise RuntimeError(f"the stream ended early: {buffer[-200:]!r}")
                    buffer += chunk
        except gevent.Timeout:
            error = TimeoutError(f"fewer than {self.frames} frames in 10 s")
        except Exception as failure:  # refused, or ended early: recorded as this request's failure
            error = failure
        self.environment.events.request.fire(
            request_type="SSE",
            name=f"stream ({self.frames} frames)",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )
