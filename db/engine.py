"""Engines, and the two ways the service uses a connection: to read, and to write atomically."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from db.slots import Slots

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


# Called with (statement, parameters) before each statement of a DriverConnection: the tests' view
# of what the hot path asks the database (SQLAlchemy's cursor events do not see these).
statement_listeners: list = []

# asyncpg errors after which the connection must not go back to the pool.
_BROKEN = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError, TimeoutError)


class DriverConnection:
    """A pooled asyncpg connection used as is, for the hot path (listings, appends).

    Each statement costs a fraction of what SQLAlchemy's execution adds per statement; asyncpg
    prepares it once per connection and caches it. asyncpg's errors come out as SQLAlchemy's
    (OperationalError for an outage, DBAPIError otherwise), like those of every other query.
    """

    def __init__(self, driver_connection):
        self.driver = driver_connection
        self.broken = False

    async def fetchrow(self, statement: str, *parameters):
        return await self._call(statement, parameters, self.driver.fetchrow, statement, *parameters)

    async def fetch(self, statement: str, *parameters):
        return await self._call(statement, parameters, self.driver.fetch, statement, *parameters)

    async def execute(self, statement: str, *parameters):
        return await self._call(statement, parameters, self.driver.execute, statement, *parameters)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN ... COMMIT, or ROLLBACK on error. A cancelled block may have left a statement
        running: the connection is then marked broken (closing it rolls back) instead."""
        transaction = self.driver.transaction()
        await self._call("BEGIN", (), transaction.start)
        try:
            yield
        except asyncio.CancelledError:
            self.broken = True
            raise
        except BaseException:
            if not self.broken:
                await self._call("ROLLBACK", (), transaction.rollback)
            raise
        await self._call("COMMIT", (), transaction.commit)

    async def _call(self, statement: str, parameters: tuple, method, *arguments):
        """method(*arguments), shown to the listeners as `statement` and with errors translated."""
        for listener in statement_listeners:
            listener(statement, parameters)
        try:
            return await method(*arguments)
        except (asyncpg.PostgresError, *_BROKEN) as error:
            raise self._translated(statement, parameters, error) from error

    def _translated(self, statement, parameters, error) -> Exception:
        sqlstate = str(getattr(error, "sqlstate", "") or "")
        self.broken = isinstance(error, _BROKEN) or sqlstate.startswith(("08", "57P"))
        if self.broken or sqlstate.startswith(("53", "57")):
            kind = sa.OperationalError
        elif sqlstate.startswith("23"):  # integrity constraint violation
            kind = sa.IntegrityError
        else:
            kind = sa.DBAPIError
        return kind(statement, parameters, error, connection_invalidated=self.broken)


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
        pooling = dict(max_overflow=0, pool_timeout=pool_timeout)
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
        # PostgreSQL's hot path keeps the pool's connections it has finished with (see
        # _HotPathConnection); `_waiting` counts the requests waiting for one of the pool.
        self._idle: list = []
        self._waiting = 0
        # At most pool_size hot-path requests hold or fetch a connection; the others queue here
        # in arrival order, and the connection one finishes with goes to the next without
        # passing through SQLAlchemy's pool (whose queue waits with a timer per request).
        self._slots = Slots(pool_size, pool_timeout)
        self.pool_timeout = pool_timeout

    def pool_in_use(self) -> int:
        """Connections checked out of the pools right now (and not idle in the hot path's hand)."""
        pools = {id(engine.pool): engine.pool for engine in (self.writer, self.reader)}
        return sum(pool.checkedout() for pool in pools.values()) - len(self._idle)

    @asynccontextmanager
    async def _core(self, connecting) -> AsyncIterator[AsyncConnection]:
        """A Core connection: the hot path's idle connections go back to the pool first, and the
        hot path hands back what it finishes with while this waits for one."""
        self._return_idle()
        self._waiting += 1
        waiting = True
        try:
            async with connecting() as conn:
                self._waiting -= 1
                waiting = False
                yield conn
        finally:
            if waiting:
                self._waiting -= 1

    def _return_idle(self) -> None:
        while self._idle:
            self._idle.pop().close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, each statement on its own (autocommit)."""
        async with self._core(self.reader.connect) as conn:
            yield conn

    def read_direct(self) -> AbstractAsyncContextManager[DriverConnection | AsyncConnection]:
        """A connection for the hot read path: on PostgreSQL a DriverConnection (asyncpg itself,
        from the same pool, with the same limits), on SQLite the usual autocommit connection."""
        return self.read() if self.backend == "sqlite" else _HotPathConnection(self)

    def write_direct(self) -> AbstractAsyncContextManager[DriverConnection | AsyncConnection]:
        """write() for the hot path (appends): on SQLite the usual transaction; on PostgreSQL a
        DriverConnection outside any, where a write is one statement (atomic by itself) or opens
        conn.transaction() for its statements."""
        return self.write() if self.backend == "sqlite" else _HotPathConnection(self)

    async def _take_slot(self) -> None:
        try:
            await self._slots.take()
        except TimeoutError:
            raise sa.TimeoutError(f"no connection free within {self.pool_timeout} s") from None

    async def _pooled(self):
        """An idle connection kept by the hot path, or one of the pool."""
        if self._idle:
            return self._idle.pop()
        self._waiting += 1
        try:
            return await self.writer.raw_connection()
        except (self.writer.dialect.loaded_dbapi.Error, OSError, TimeoutError) as error:
            # Connecting failed; SQLAlchemy wraps this only for its own Connections.
            unreachable = sa.OperationalError("connect", None, error, connection_invalidated=True)
            raise unreachable from error
        finally:
            self._waiting -= 1

    async def _done_with(self, pooled, conn: DriverConnection) -> None:
        if conn.broken:
            idle, self._idle = self._idle, []
            for connection in (pooled, *idle):
                await greenlet_spawn(connection.invalidate)
        elif self._waiting or pooled.driver_connection.is_in_transaction():
            pooled.close()  # back to the pool (which rolls back a transaction left open)
        else:
            self._idle.append(pooled)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends and rolled back on error."""
        async with self._core(self.writer.begin) as conn:
            yield conn

    async def dispose(self) -> None:
        self._return_idle()
        await self.writer.dispose()
        if self.backend == "sqlite":
            await self.reader.dispose()


class _HotPathConnection:
    """Database.read_direct()/write_direct() on PostgreSQL: a connection of the pool, kept when
    done (up to the pool's size) for the next hot-path request instead of being checked in and
    out of SQLAlchemy's pool each time (45 us a request, a tenth of an unchanged poll). Handed
    back to the pool whenever a request (of the hot path or Core) waits there, so waiters are
    served in turn; all handed back when a Core user arrives; all dropped when one turns out
    broken (the database restarted). At most pool_size of these hold or fetch a connection; the
    others queue in arrival order on the database's semaphore.

    A class rather than generator context managers: those (three, nested, with a timer even for a
    free slot) were 5% of the instructions of an unchanged poll.
    """

    __slots__ = ("conn", "database", "pooled")

    def __init__(self, database: Database):
        self.database = database

    async def __aenter__(self) -> DriverConnection:
        database = self.database
        await database._take_slot()
        try:
            self.pooled = await database._pooled()
        except BaseException:
            database._slots.release()
            raise
        self.conn = DriverConnection(self.pooled.driver_connection)
        return self.conn

    async def __aexit__(self, kind, _error, _traceback) -> None:
        if kind is not None and issubclass(kind, asyncio.CancelledError):
            self.conn.broken = True  # a statement may still be running on it: never reuse it
        try:
            await self.database._done_with(self.pooled, self.conn)
        finally:
            self.database._slots.release()
