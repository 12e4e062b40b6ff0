"""Fixtures for every suite: real SQLite files, a real PostgreSQL server, the app, a live server.

PostgreSQL: EVENTS_TEST_DATABASE_URL if set, otherwise a throwaway server started from the
machine's binaries (support/pg_server.py). Without one, PostgreSQL tests fail when
EVENTS_REQUIRE_POSTGRES=1 (CI sets it) and are skipped with the reason otherwise.

A module marked `pytest.mark.topology` runs each of its tests that takes `database_url` on a
third backend too: a primary, a replica lagging 1.5 s and PgBouncer in transaction mode
(support/pg_topology.py), started once per run when the first such test needs it. There
`database_url` is the primary's (resets and checks go to it directly) and `live_server` starts
servers with the topology's settings (`database_env`).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import structlog
from sqlalchemy import text

from session_events.app import create_app
from session_events.db import migrate
from session_events.db.engine import open_database
from session_events.db.tables import metadata
from session_events.settings import Settings, load_settings
from support.live_server import READ_KEY, WRITE_KEY, LiveServer
from support.pg_server import PostgresServer, PostgresUnavailable
from support.pg_topology import Topology

TOKEN_SECRET = "test-token-secret-of-at-least-32-bytes"
READ = {"X-API-Key": READ_KEY}
WRITE = {"X-API-Key": WRITE_KEY}
BACKENDS = ["sqlite", "postgresql"]
TOPOLOGY = "topology"  # the third backend of modules marked `topology`


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "topology: the module's tests that take database_url also run on a primary, a lagging "
        "replica and PgBouncer in transaction mode (support/pg_topology.py)",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest reads the parametrize marks it adds
def pytest_generate_tests(metafunc):
    definition = metafunc.definition
    if not definition.get_closest_marker(TOPOLOGY):
        return
    pinned = " ".join(mark.args[0] for mark in definition.iter_markers("parametrize"))
    if "database_url" in metafunc.fixturenames and "database_url" not in pinned:
        # A test pinned to one backend stays there.
        definition.add_marker(
            pytest.mark.parametrize("database_url", [*BACKENDS, TOPOLOGY], indirect=True)
        )
    if "own_postgres" in metafunc.fixturenames and "own_postgres" not in pinned:
        definition.add_marker(
            pytest.mark.parametrize("own_postgres", ["postgresql", TOPOLOGY], indirect=True)
        )


def on_topology(request) -> bool:
    """Whether the test runs on the topology (through database_url or own_postgres)."""
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params if callspec else {}
    return TOPOLOGY in (params.get("database_url"), params.get("own_postgres"))


def required(found, message: str, hint: str):
    """`found`, or else the test fails (with EVENTS_REQUIRE_POSTGRES=1, as CI sets) or is
    skipped, saying why."""
    if found:
        return found
    if os.environ.get("EVENTS_REQUIRE_POSTGRES") == "1":
        pytest.fail(message + " (EVENTS_REQUIRE_POSTGRES=1)")
    pytest.skip(f"{message} -- {hint}")


class Postgres:
    """The PostgreSQL database of this test run, or why there is none."""

    def __init__(self):
        self.server: PostgresServer | None = None
        self.url: str | None = os.environ.get("EVENTS_TEST_DATABASE_URL") or None
        self.reason = ""
        if self.url is None:
            try:
                self.server = PostgresServer().start()
                self.url = self.server.create_database("events_test")
            except PostgresUnavailable as error:
                self.reason = str(error)

    def require(self) -> str:
        hint = "set EVENTS_TEST_DATABASE_URL or install PostgreSQL"
        return required(self.url, f"PostgreSQL is not available: {self.reason}", hint)

    def stop(self):
        if self.server:
            self.server.stop()


class TopologyOfRun:
    """The topology of this test run (support/pg_topology.py), or why there is none."""

    DATABASE = "events_test"

    def __init__(self):
        self.topology: Topology | None = None
        self.reason = ""
        started = time.monotonic()
        try:
            self.topology = Topology().start()
            self.topology.create_database(self.DATABASE)
        except PostgresUnavailable as error:
            self.stop()
            self.reason = str(error)
        self.start_seconds = time.monotonic() - started

    def require(self) -> Topology:
        message = f"the PostgreSQL topology is not available: {self.reason}"
        return required(self.topology, message, "install PostgreSQL and pgbouncer")

    def stop(self):
        if self.topology:
            self.topology.stop()
            self.topology = None


@pytest.fixture(scope="session")
def topology():
    """The run's primary, lagging replica and PgBouncer, started when a test first needs them."""
    of_run = TopologyOfRun()
    yield of_run
    of_run.stop()


@pytest.fixture
def service_logs():
    """The lines the service's own (structlog) loggers write during the test, as dicts with the
    values bound in their context (the request id)."""
    processors = [structlog.contextvars.merge_contextvars]
    with structlog.testing.capture_logs(processors=processors) as lines:
        yield lines


@pytest.fixture(scope="session")
def postgres():
    pg = Postgres()
    yield pg
    pg.stop()


class OwnTopology:
    """A topology of the test's own, seen as the PostgreSQL server of `own_postgres`: its
    databases are reached through PgBouncer, and stopping the server stops the primary behind
    PgBouncer and the replica with it (the whole database goes away, as on the plain server).

    Servers the test starts (support.live_server.LiveServer, which copies os.environ) get the
    rest of the topology's settings from the environment, set by `create_database`.
    """

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.topology = Topology().start()

    def create_database(self, name: str) -> str:
        self.topology.create_database(name)
        for variable, value in self.topology.env(name).items():
            self.monkeypatch.setenv(variable, value)
        return self.topology.bouncer_url(name)

    def stop_server(self, mode: str = "fast") -> None:
        self.topology.replica.stop_server(mode)
        self.topology.primary.stop_server(mode)

    def start_server(self) -> None:
        self.topology.primary.start_server()
        self.topology.replica.start_server()

    def stop(self) -> None:
        self.topology.stop()


@pytest.fixture
def own_postgres(request, postgres, monkeypatch):
    """A PostgreSQL server of the test's own, which it may stop and start (in modules marked
    `topology`, also a topology of its own: OwnTopology)."""
    postgres.require()  # same rules as every PostgreSQL test: fail in CI, skip elsewhere
    if postgres.server is None:
        pytest.skip("needs a throwaway server it may stop (EVENTS_TEST_DATABASE_URL is set)")
    try:
        if getattr(request, "param", None) == TOPOLOGY:
            server = OwnTopology(monkeypatch)
        else:
            server = PostgresServer().start()
    except PostgresUnavailable as error:
        pytest.fail(str(error))
    yield server
    server.stop()


async def reset_database(url: str) -> None:
    """Migrate (the first time) and empty the tables, so every test starts from nothing."""
    database = open_database(Settings(database_url=url))
    try:
        await migrate.upgrade(database)
        async with database.write() as conn:
            tables = [table.name for table in reversed(metadata.sorted_tables)]
            if database.backend == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(tables)}"))
            else:  # dependents first
                for table in tables:
                    await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/events.db"


async def reset_topology(topology: Topology, database: str) -> None:
    await reset_database(topology.primary_url(database))
    # A replica still showing the last test's rows would serve them to this one.
    await asyncio.to_thread(topology.wait_for_replay)


@pytest.fixture(params=BACKENDS)
def database_url(request, sqlite_url, postgres) -> str:
    """An empty, migrated database of each backend (one per backend per run, emptied per test);
    on the topology, the primary's."""
    if request.param == TOPOLOGY:
        topology = request.getfixturevalue("topology").require()
        asyncio.run(reset_topology(topology, TopologyOfRun.DATABASE))
        return topology.primary_url(TopologyOfRun.DATABASE)
    url = sqlite_url if request.param == "sqlite" else postgres.require()
    asyncio.run(reset_database(url))
    return url


@pytest.fixture
def database_env(request, database_url) -> dict[str, str]:
    """The settings a server needs beyond EVENTS_DATABASE_URL=database_url: on the topology,
    writes through PgBouncer, LISTEN on the primary, reads from the replica."""
    if not on_topology(request):
        return {}
    return request.getfixturevalue("topology").require().env(TopologyOfRun.DATABASE)


@pytest.fixture
def settings(database_url):
    return load_settings(
        {
            "EVENTS_DATABASE_URL": database_url,
            "EVENTS_READ_KEYS": READ_KEY,
            "EVENTS_WRITE_KEYS": WRITE_KEY,
            # Shared by every app a test makes, so that one's tokens are good on another.
            "EVENTS_TOKEN_SECRETS": TOKEN_SECRET,
        }
    )


@pytest.fixture(scope="session")
def _running_apps():
    """One app per database for the whole run: building Connexion's app is the slow part."""
    clients = {}
    yield clients
    for test_client in clients.values():
        test_client.__exit__(None, None, None)


@pytest.fixture
def client(settings, _running_apps):
    """The app, its lifespan running, behind Starlette's test client, on an empty database."""
    if settings.database_url not in _running_apps:
        test_client = create_app(settings).test_client()
        test_client.__enter__()
        _running_apps[settings.database_url] = test_client
    return _running_apps[settings.database_url]


@pytest.fixture
async def database(database_url):
    """A migrated Database for tests of the query functions."""
    db = open_database(Settings(database_url=database_url))
    await migrate.upgrade(db)
    yield db
    await db.dispose()


@pytest.fixture
def live_server(database_url, database_env, tmp_path):
    """A running server on the test's database; call it with extra serve arguments if needed."""
    servers = []

    def start(*args: str, **env: str) -> LiveServer:
        log = tmp_path / f"server-{len(servers)}.log"
        server = LiveServer(database_url, log, **{**database_env, **env})
        servers.append(server)
        return server.start(*args)

    yield start
    for server in servers:
        server.stop()
