"""The service's database, one class per backend, chosen from its parsed URL in one place.

In the manner of dagster's `SqlEventLogStorage` and its SQLite and PostgreSQL subclasses: what
the backends share is written once in `Database`; `SqliteDatabase` and `PostgresDatabase`
override only how they connect (the engines and their options), how a hot statement reaches the
driver, how waiters are woken (watch), how migrations take their turn and which errors mean a
statement timed out. The SQL each spells its own way (JSON, upserts, locks, NOTIFY) is in
db/dialects.py; the settings reach a Database through `open_database` only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from session_events.db.dialects import QueryComponents, components
from session_events.db.errors import STATEMENT_TIMEOUT, sqlstate
from session_events.db.fast_pg import DriverConnections
from session_events.db.json_codec import dumps_text
from session_events.db.notify import Notifier, PostgresNotifier
from session_events.db.statements import CoreRunner, Runner
from session_events.db.urls import parse_database_url, sqlite_file, url_text

if TYPE_CHECKING:
    from session_events.settings import Settings

# Held while migrating so that several server processes starting at once migrate one at a time.
PG_MIGRATION_LOCK = 7_004_231_977


class Database:
    """The database: an engine to write and an autocommit view of it to read.

    Reads run statement by statement without BEGIN/ROLLBACK round trips; the queries bound every
    read by the session's counter, which keeps a request's statements consistent.

    Every statement has a deadline (`statement_timeout`), connecting has one (`connect_timeout`),
    and waiting for a pooled connection has one (`pool_timeout`): a dead or slow database makes
    requests fail fast instead of piling up.
    """

    backend: ClassVar[str]
    driver: ClassVar[str]  # SQLAlchemy's drivername for the async driver
    # Whether an append wakes the waiters of every server process, or only of its own.
    wakes_other_processes: ClassVar[bool] = False

    def __init__(
        self,
        url: URL,
        *,
        pool_size: int,
        pool_timeout: float,
        statement_timeout: float,
        connect_timeout: float,
    ):
        self.url = url
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self.components: QueryComponents = components(self.backend)
        self.writer, self.reader = self.connect(statement_timeout, connect_timeout)

    # -- what each backend overrides ---------------------------------------------------------

    def connect(
        self, statement_timeout: float, connect_timeout: float
    ) -> tuple[AsyncEngine, AsyncEngine]:
        """The writer's engine and the readers' (autocommit) one."""
        raise NotImplementedError

    @classmethod
    def prepare(cls, url: URL) -> None:
        """Make what the database needs before anything connects; OSError if it cannot be."""

    @classmethod
    def probe_options(cls, timeout: float) -> dict:
        """connect_args of a connection that gives up after `timeout` seconds."""
        return {}

    def notifier(self) -> Notifier:
        """How waiters learn of appends (watch): in this process only."""
        return Notifier()

    async def take_migration_turn(self, conn: AsyncConnection) -> None:
        """Run first in the migrating transaction: wait for other processes' migrations."""

    @staticmethod
    def timed_out(error: BaseException) -> bool:
        """Whether the error is a statement stopped at its deadline."""
        raise NotImplementedError

    def _turn(self) -> AbstractAsyncContextManager:
        """A turn at the pool before a checkout (none: SQLAlchemy's pool queues the waiters)."""
        return nullcontext()

    def read_direct(self) -> AbstractAsyncContextManager[Runner]:
        """A Runner for the hot read path, each statement on its own."""
        return self._core(self.read())

    def write_direct(self) -> AbstractAsyncContextManager[Runner]:
        """A Runner for appends, outside any transaction of the caller's: a write is one
        statement or opens runner.transaction()."""
        return self._core(self.write())

    # -- shared ------------------------------------------------------------------------------

    @classmethod
    def engine(cls, url: URL, **options) -> AsyncEngine:
        return create_async_engine(url.set(drivername=cls.driver), **options)

    def pooled_engine(self, **options) -> AsyncEngine:
        return self.engine(
            self.url,
            max_overflow=0,
            pool_timeout=self.pool_timeout,
            json_serializer=dumps_text,
            **options,
        )

    @classmethod
    def probe_engine(cls, url: URL, timeout: float) -> AsyncEngine:
        """An engine whose every connection is its own, outside any pool, for readiness."""
        return cls.engine(url, poolclass=NullPool, connect_args=cls.probe_options(timeout))

    def replica_status(self) -> list[dict]:
        """Each replica's state, for /readyz and /metrics: `name` (host:port/database),
        `in_use` (reads may go to it now), `lag_seconds` (None while unknown) and `error` (why
        it is not in use, or None). Empty without replicas."""
        return []

    def pool_in_use(self) -> int:
        """Connections checked out of the pools right now."""
        pools = {id(engine.pool): engine.pool for engine in (self.writer, self.reader)}
        return sum(pool.checkedout() for pool in pools.values())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, each statement on its own (autocommit)."""
        async with self._turn(), self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends and rolled back on error."""
        async with self._turn(), self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _core(self, connecting) -> AsyncIterator[Runner]:
        async with connecting as conn:
            yield CoreRunner(conn)

    async def dispose(self) -> None:
        shared = self.reader.sync_engine.pool is self.writer.sync_engine.pool
        for engine in [self.writer] if shared else [self.writer, self.reader]:
            await engine.dispose()


class SqliteDatabase(Database):
    """One file, one process. The writer holds a single connection, so appends of this process
    queue in the pool instead of failing on SQLite's file lock, and readers run beside it thanks
    to WAL."""

    backend = "sqlite"
    driver = "sqlite+aiosqlite"

    @classmethod
    def prepare(cls, url):
        sqlite_file(url).parent.mkdir(parents=True, exist_ok=True)

    def connect(self, statement_timeout, connect_timeout):
        self.prepare(self.url)
        writer = self.pooled_engine(pool_size=1)
        _prepare_sqlite(writer, "BEGIN IMMEDIATE", statement_timeout)
        # No BEGIN is ever sent on these connections, so there is nothing to roll back.
        reader = self.pooled_engine(pool_size=self.pool_size, pool_reset_on_return=None)
        _prepare_sqlite(reader, None, statement_timeout)
        return writer, reader

    @staticmethod
    def timed_out(error):
        return "interrupted" in str(error)  # the progress handler's deadline (below)


def _prepare_sqlite(engine: AsyncEngine, begin: str | None, statement_timeout: float) -> None:
    """WAL, foreign keys, a busy timeout, a statement timeout and explicit BEGINs.

    The sqlite3 module would otherwise open transactions lazily on the first write, which lets two
    writers both read the session counter before either locks the file. Writes use BEGIN IMMEDIATE
    so they take the write lock before reading anything. SQLite has no statement timeout of its
    own: a progress handler interrupts a statement running past its deadline.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
        deadline = record.info["deadline"] = [None]

        def past_deadline() -> int:
            return int(deadline[0] is not None and time.monotonic() > deadline[0])

        dbapi_connection.run_async(lambda conn: conn.set_progress_handler(past_deadline, 10_000))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _start_clock(connection, _cursor, _statement, _parameters, _context, _many):
        connection.info["deadline"][0] = time.monotonic() + statement_timeout

    if begin:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql(begin)


class PostgresDatabase(Database):
    """Any number of server processes on one server: one pool, reached through turns, its hot
    statements run on the driver (db/fast_pg.py), waiters woken by LISTEN/NOTIFY."""

    backend = "postgresql"
    driver = "postgresql+asyncpg"
    wakes_other_processes = True

    def connect(self, statement_timeout, connect_timeout):
        connect_args = {
            "timeout": connect_timeout,
            "command_timeout": statement_timeout + 1,  # the client's backstop
            "server_settings": {"statement_timeout": str(int(statement_timeout * 1000))},
        }
        writer = self.pooled_engine(pool_size=self.pool_size, connect_args=connect_args)
        self.connections = DriverConnections(writer, self.pool_size, self.pool_timeout)
        return writer, writer.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def probe_options(cls, timeout):
        return {"timeout": timeout}

    def notifier(self):
        return PostgresNotifier(url_text(self.url))

    async def take_migration_turn(self, conn):
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
        await conn.execute(text("SET LOCAL statement_timeout = 0"))  # DDL may take long

    @staticmethod
    def timed_out(error):
        return sqlstate(error) == STATEMENT_TIMEOUT

    def _turn(self):
        return self.connections.turn()

    def read_direct(self):
        return self.connections.runner()

    def write_direct(self):
        return self.connections.runner()


DATABASES: dict[str, type[Database]] = {
    kind.backend: kind for kind in (SqliteDatabase, PostgresDatabase)
}


def database_class(database_url: str) -> type[Database]:
    """The class of the backend the URL names (the one place that chooses)."""
    return DATABASES[parse_database_url(database_url).drivername]


def open_database(settings: Settings, **changes) -> Database:
    """The database the settings name, with their EVENTS_DB_* options (`changes` replace
    settings for this one, e.g. db_pool_size=1)."""
    settings = replace(settings, **changes)
    url = parse_database_url(settings.database_url)
    return DATABASES[url.drivername](
        url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout=settings.db_statement_timeout,
        connect_timeout=settings.db_connect_timeout,
    )
