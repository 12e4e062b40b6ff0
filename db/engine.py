"""Engines, and the two ways the service uses a connection: to read, and to write atomically."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

from session_events.db.json_codec import dumps_text
from session_events.db.statements import CoreRunner, DriverRunner, Runner
from session_events.db.turns import Turns

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def driver_url(database_url: str) -> str:
    """sqlite:///x or postgresql://... -> the SQLAlchemy URL with its async driver."""
    scheme, rest = database_url.split("://", 1)
    return f"{DRIVERS[scheme]}://{rest}"


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


class QuickCheckouts:
    """Lets a checkout of the pool skip the greenlet SQLAlchemy's asyncio engine runs every
    checkout in, when the checkout needs no IO: an idle connection is there and none of the pool's
    connections may have to reconnect. (The greenlet costs more than the rest of a cached read's
    database work; AsyncEngine.raw_connection() could skip it so upstream.)

    Which may have to reconnect is known from the pool's public events: after any invalidation
    every connection may (a disconnect invalidates the whole pool), until a checkout in the
    greenlet has renewed or passed it. A connection the server has closed is replaced first.
    """

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.known: set = set()  # the pool's connection records
        self.unsure: set = set()  # records invalidated since their last checkout
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _connected(_dbapi_connection, record):
            self.known.add(record)

        @event.listens_for(sync_engine, "invalidate")
        def _invalidated(_dbapi_connection, _record, _error):
            self.unsure = set(self.known)

        @event.listens_for(sync_engine, "checkout")
        def _checked_out(_dbapi_connection, record, _proxy):
            if in_greenlet():
                self.unsure.discard(record)

    async def checkout(self):
        pool = self.engine.sync_engine.pool
        pooled = None
        if pool.checkedin() and not self.unsure:
            with contextlib.suppress(sa.MissingGreenlet):  # it had to connect: in the greenlet
                pooled = pool.connect()
        if pooled is None:
            pooled = await self.engine.raw_connection()
        while pooled.driver_connection.is_closed():  # the server ended it (a restart, say)
            await greenlet_spawn(pooled.invalidate)
            pooled = await self.engine.raw_connection()  # renewed, in the greenlet
        return pooled


class Database:
    """The service's database: an engine to write and an autocommit view of it to read.

    Reads run statement by statement without BEGIN/ROLLBACK round trips; the queries bound every
    read by the session's counter, which keeps a request's statements consistent. On SQLite the
    writer holds a single connection, so appends of this process queue in the pool instead of
    failing on SQLite's file lock, and readers run beside it thanks to WAL.

    Every statement has a deadline (`statement_timeout`), connecting has one (`connect_timeout`),
    and waiting for a pooled connection has one (`pool_timeout`): a dead or slow database makes
    requests fail fast instead of piling up.
    """

    def __init__(
        self,
        database_url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 10.0,
        statement_timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ):
        self.backend = database_url.split(":", 1)[0]
        self.pool_size = pool_size
        url = driver_url(database_url)
        pooling = dict(max_overflow=0, pool_timeout=pool_timeout, json_serializer=dumps_text)
        if self.backend == "sqlite":
            Path(url.split("://", 1)[1][1:]).parent.mkdir(parents=True, exist_ok=True)
            self.writer = create_async_engine(url, pool_size=1, **pooling)
            _prepare_sqlite(self.writer, "BEGIN IMMEDIATE", statement_timeout)
            # No BEGIN is ever sent on these connections, so there is nothing to roll back.
            self.reader = create_async_engine(
                url, pool_size=pool_size, pool_reset_on_return=None, **pooling
            )
            _prepare_sqlite(self.reader, None, statement_timeout)
        else:
            connect_args = {
                "timeout": connect_timeout,
                "command_timeout": statement_timeout + 1,  # the client's backstop
                "server_settings": {"statement_timeout": str(int(statement_timeout * 1000))},
            }
            self.writer = create_async_engine(
                url, pool_size=pool_size, connect_args=connect_args, **pooling
            )
            self.reader = self.writer.execution_options(isolation_level="AUTOCOMMIT")
        self.pool_timeout = pool_timeout
        # PostgreSQL: every checkout of the one pool first takes one of pool_size turns here, so
        # the pool always has a connection ready; waiting in SQLAlchemy's pool instead costs each
        # waiter a timer and greenlet switches (most requests wait under load).
        self._turns = Turns(pool_size, pool_timeout) if self.backend == "postgresql" else None
        self._checkouts = QuickCheckouts(self.writer) if self.backend == "postgresql" else None

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """A turn at the pool, in arrival order; sa.TimeoutError after pool_timeout seconds."""
        turns = self._turns
        if turns is None:
            yield
            return
        try:
            await turns.take()
        except TimeoutError:
            raise sa.TimeoutError(f"no connection free within {self.pool_timeout} s") from None
        try:
            yield
        finally:
            turns.release()

    def pool_in_use(self) -> int:
        """Connections checked out of the pools right now."""
        pools = {id(engine.pool): engine.pool for engine in (self.writer, self.reader)}
        return sum(pool.checkedout() for pool in pools.values())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, each statement on its own (autocommit)."""
        async with self._turn(), self.reader.connect() as conn:
            yield conn

    def read_direct(self) -> AbstractAsyncContextManager[Runner]:
        """A Runner for the hot read path: on PostgreSQL the driver of a pooled connection (each
        statement on its own), on SQLite an autocommit connection."""
        return self._driver() if self.backend == "postgresql" else self._core(self.read())

    def write_direct(self) -> AbstractAsyncContextManager[Runner]:
        """A Runner for appends: on PostgreSQL the driver of a pooled connection, outside any
        transaction (a write is one statement or opens runner.transaction()); on SQLite write()."""
        return self._driver() if self.backend == "postgresql" else self._core(self.write())

    @asynccontextmanager
    async def _core(self, connecting) -> AsyncIterator[Runner]:
        async with connecting as conn:
            yield CoreRunner(conn)

    @asynccontextmanager
    async def _driver(self) -> AsyncIterator[Runner]:
        """The pool's connection, its driver used as is. A connection that failed as a connection,
        or whose request was cancelled with a statement maybe still running on it, is
        invalidated: it never goes back to the pool."""
        async with self._turn():
            try:
                pooled = await self._checkouts.checkout()
            except (self.writer.dialect.loaded_dbapi.Error, OSError) as error:
                # Connecting failed; SQLAlchemy wraps this only for its own Connections.
                raise sa.OperationalError(
                    "connect", None, error, connection_invalidated=True
                ) from error
            runner = DriverRunner(self.writer.dialect, pooled.driver_connection)
            try:
                yield runner
            except BaseException as error:
                if runner.broken or not isinstance(error, Exception):
                    runner.broken = True
                    await greenlet_spawn(pooled.invalidate)
                raise
            finally:
                if not runner.broken:
                    pooled.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends and rolled back on error."""
        async with self._turn(), self.writer.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.backend == "sqlite":
            await self.reader.dispose()
