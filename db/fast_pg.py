"""PostgreSQL's fast path: compiled statements run on the asyncpg connection of a pooled one.

The hot reads and appends leave SQLAlchemy's execution here, and only here: a statement is compiled
once (db/statements.py `compiled_once`, with its types' bind and result processors), a connection
is checked out of SQLAlchemy's own pool, and the statement runs on its driver; asyncpg's errors
come out as SQLAlchemy's would. `tests/integration/db/test_fast_pg.py` runs the same statements
through this path and through plain Core and holds the two to the same rows, types and errors.

Only public APIs: the pool's events and `AsyncEngine.raw_connection()`, the pooled connection's
`driver_connection`, `invalidate()` and `close()`; asyncpg's `fetch` and `transaction()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from session_events.db.errors import CONNECTION_GONE, INTEGRITY, OUTAGE_SQLSTATES, sqlstate_of
from session_events.db.statements import Runner

# asyncpg errors after which the connection must not be used again.
UNUSABLE = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)


class DriverRunner(Runner):
    """On the asyncpg connection of a pooled connection. asyncpg's errors come out as SQLAlchemy's
    (OperationalError for an outage, IntegrityError, DBAPIError otherwise); `broken` says the
    connection must be invalidated, not reused."""

    def __init__(self, dialect, driver: asyncpg.Connection):
        super().__init__(dialect)
        self.driver = driver
        self.broken = False

    async def _fetch(self, sql, parameters):
        try:
            return await self.driver.fetch(sql, *parameters)
        except (asyncpg.PostgresError, *UNUSABLE) as error:
            raise self.translated(sql, parameters, error) from error

    def transaction(self):
        return DriverTransaction(self)

    def translated(self, sql: str, parameters, error: BaseException) -> Exception:
        sqlstate = sqlstate_of(error)
        if isinstance(error, asyncpg.DataError):  # a value the driver cannot send: a bug
            return sa.DBAPIError(sql, parameters, error)
        self.broken = isinstance(error, UNUSABLE) or sqlstate.startswith(CONNECTION_GONE)
        if self.broken or sqlstate.startswith(OUTAGE_SQLSTATES):
            kind = sa.OperationalError
        elif sqlstate.startswith(INTEGRITY):
            kind = sa.IntegrityError
        else:
            kind = sa.DBAPIError
        return kind(sql, parameters, error, connection_invalidated=self.broken)


class DriverTransaction:
    """asyncpg's transaction, its errors translated as the runner's statements' are."""

    def __init__(self, runner: DriverRunner):
        self.runner = runner
        self.transaction = None

    async def _start(self) -> None:
        # Made here, where its errors are translated: asyncpg refuses at once on a closed one.
        self.transaction = self.runner.driver.transaction()
        await self.transaction.start()

    async def _call(self, name: str, method) -> None:
        try:
            await method()
        except (asyncpg.PostgresError, *UNUSABLE) as error:
            raise self.runner.translated(name, (), error) from error

    async def __aenter__(self) -> None:
        await self._call("BEGIN", self._start)

    async def __aexit__(self, kind, error, _traceback) -> None:
        if kind is None:
            await self._call("COMMIT", self.transaction.commit)
        elif not self.runner.broken and issubclass(kind, Exception):
            await self._call("ROLLBACK", self.transaction.rollback)
        else:  # cancelled mid-statement, or the connection is gone: it is invalidated instead
            self.runner.broken = True


class QuickCheckouts:
    """Checkouts of the pool that skip the greenlet SQLAlchemy's asyncio engine runs every checkout
    in, when the checkout needs no IO: an idle connection is there and none of the pool's
    connections may have to reconnect. (The greenlet costs more than the rest of a cached read's
    database work.)

    Which may have to reconnect is known from the pool's public events: after any invalidation
    every connection may (a disconnect invalidates the whole pool), until a checkout has renewed
    or passed it; only checkouts in the greenlet happen meanwhile. A connection the server has
    closed is replaced first.
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
            self.unsure.discard(record)

    async def checkout(self):
        pool = self.engine.sync_engine.pool
        pooled = None
        if pool.checkedin() and not self.unsure:
            # The events above say this checkout needs no IO. Should one need it after all (a pool
            # change they do not follow), SQLAlchemy refuses the IO outside its greenlet before
            # touching the connection, and the checkout is made in the greenlet instead of the
            # request failing.
            with contextlib.suppress(sa.MissingGreenlet):
                pooled = pool.connect()
        if pooled is None:
            pooled = await self.engine.raw_connection()
        while pooled.driver_connection.is_closed():  # the server ended it (a restart, say)
            pooled.invalidate()  # outside the greenlet the adapter terminates it, without IO
            pooled = await self.engine.raw_connection()  # renewed, in the greenlet
        return pooled


class Turns:
    """`size` turns, taken in arrival order; a wait longer than `timeout` raises TimeoutError.

    Under load nearly every request waits for a turn, and an asyncio.timeout() around each wait (a
    timer made and cancelled per request) costs a read measurably (perf/RESULTS.md). Here every
    waiter shares one timeout, so the oldest is always the first due: one timer, set for the
    oldest waiter's deadline, cancels the tasks past theirs as asyncio.timeout() would
    (uncancelled, and turned into TimeoutError, unless something else cancelled them too).
    """

    def __init__(self, size: int, timeout: float):
        self.semaphore = asyncio.Semaphore(size)
        self.timeout = timeout
        self.waiting: deque[list] = deque()  # [deadline, task, still waiting], oldest first
        self.expired: set[asyncio.Task] = set()
        self.timer: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        if not self.semaphore.locked():
            await self.semaphore.acquire()  # returns at once
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        while self.waiting and not self.waiting[0][2]:
            self.waiting.popleft()  # served already
        entry = [loop.time() + self.timeout, task, True]
        self.waiting.append(entry)
        if self.timer is None:
            self.timer = loop.call_at(entry[0], self._expire)
        try:
            await self.semaphore.acquire()
        except asyncio.CancelledError:
            if task in self.expired:
                self.expired.discard(task)
                if task.uncancel() == 0:
                    raise TimeoutError from None
            raise
        finally:
            entry[2] = False

    def release(self) -> None:
        self.semaphore.release()

    def _expire(self) -> None:
        self.timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self.waiting and (not self.waiting[0][2] or self.waiting[0][0] <= now):
            _, task, waiting = self.waiting.popleft()
            if waiting:
                self.expired.add(task)
                task.cancel()
        if self.waiting:
            self.timer = loop.call_at(self.waiting[0][0], self._expire)


class DriverConnections:
    """The pool of `engine`, reached through turns: every checkout first takes one of pool_size
    turns, so the pool always has a connection ready; waiting in SQLAlchemy's pool instead costs
    each waiter a timer and greenlet switches (most requests wait under load)."""

    def __init__(self, engine: AsyncEngine, pool_size: int, pool_timeout: float):
        self.engine = engine
        self.pool_timeout = pool_timeout
        self.turns = Turns(pool_size, pool_timeout)
        self.checkouts = QuickCheckouts(engine)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """A turn at the pool, in arrival order; sa.TimeoutError after pool_timeout seconds."""
        try:
            await self.turns.take()
        except TimeoutError:
            raise sa.TimeoutError(f"no connection free within {self.pool_timeout} s") from None
        try:
            yield
        finally:
            self.turns.release()

    @asynccontextmanager
    async def runner(self) -> AsyncIterator[DriverRunner]:
        """The pool's connection, its driver used as is. A connection that failed as a connection,
        or whose request was cancelled with a statement maybe still running on it, is
        invalidated: it never goes back to the pool."""
        async with self.turn():
            try:
                pooled = await self.checkouts.checkout()
            except (self.engine.dialect.loaded_dbapi.Error, OSError) as error:
                # Connecting failed; SQLAlchemy wraps this only for its own Connections.
                raise sa.OperationalError(
                    "connect", None, error, connection_invalidated=True
                ) from error
            runner = DriverRunner(self.engine.dialect, pooled.driver_connection)
            try:
                yield runner
            except BaseException as error:
                if not isinstance(error, Exception):
                    runner.broken = True  # cancelled: the statement may still be running on it
                raise
            finally:
                if runner.broken:  # failed as a connection (maybe caught by a failover)
                    pooled.invalidate()  # terminated, never back in the pool
                else:
                    pooled.close()
