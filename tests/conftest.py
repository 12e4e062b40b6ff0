"""Fixtures for every suite: real SQLite files, a real PostgreSQL server, the app, a live server.

PostgreSQL: EVENTS_TEST_DATABASE_URL if set, otherwise a throwaway server started from the
machine's binaries (support/pg_server.py). Without one, PostgreSQL tests fail when
EVENTS_REQUIRE_POSTGRES=1 (CI sets it) and are skipped with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import os

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

TOKEN_SECRET = "test-token-secret-of-at-least-32-bytes"
READ = {"X-API-Key": READ_KEY}
WRITE = {"X-API-Key": WRITE_KEY}
BACKENDS = ["sqlite", "postgresql"]


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
        if self.url:
            return self.url
        message = f"PostgreSQL is not available: {self.reason}"
        if os.environ.get("EVENTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (EVENTS_REQUIRE_POSTGRES=1)")
        pytest.skip(message + " -- set EVENTS_TEST_DATABASE_URL or install PostgreSQL")

    def stop(self):
        if self.server:
            self.server.stop()


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


@pytest.fixture
def own_postgres(postgres):
    """A PostgreSQL server of the test's own, which it may stop and start."""
    postgres.require()  # same rules as every PostgreSQL test: fail in CI, skip elsewhere
    if postgres.server is None:
        pytest.skip("needs a throwaway server it may stop (EVENTS_TEST_DATABASE_URL is set)")
    try:
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


@pytest.fixture(params=BACKENDS)
def database_url(request, sqlite_url, postgres) -> str:
    """An empty, migrated database of each backend (one per backend per run, emptied per test)."""
    url = sqlite_url if request.param == "sqlite" else postgres.require()
    asyncio.run(reset_database(url))
    return url


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
def live_server(database_url, tmp_path):
    """A running server on the test's database; call it with extra serve arguments if needed."""
    servers = []

    def start(*args: str, **env: str) -> LiveServer:
        server = LiveServer(database_url, tmp_path / f"server-{len(servers)}.log", **env)
        servers.append(server)
        return server.start(*args)

    yield start
    for server in servers:
        server.stop()
