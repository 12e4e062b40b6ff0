"""What the service's database is, whatever the backend: an engine to write and an autocommit view
of it to read, with deadlines on everything.

In the manner of dagster's `SqlEventLogStorage` and its SQLite and PostgreSQL subclasses: what
the backends share is written once here; `SqliteDatabase` (db/sqlite.py) and `PostgresDatabase`
(db/postgres.py) override only how they connect (the engines and their options), how a hot
statement reaches the driver, how waiters are woken (watch), how migrations take their turn,
which errors mean a statement timed out and where reads go. The SQL each spells its own way
(JSON, upserts, locks, NOTIFY) is in db/query_components.py and each dialect's module; the
settings reach a Database through `open_database` (db/engine.py) only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from session_events.db.dialects import components
from session_events.db.json_codec import dumps_text
from session_events.db.notify import Notifier
from session_events.db.positions import NONE
from session_events.db.query_components import QueryComponents
from session_events.db.statements import CoreRunner, Runner

if TYPE_CHECKING:
    from session_events.settings import Settings

T = TypeVar("T")


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
    # The replicas that serve reads (PostgreSQL's, db/replicas.py); None: the database alone.
    replicas = None

    def __init__(
        self,
        url: URL,
        *,
        pool_size: int,
        pool_timeout: float,
        statement_timeout: float,
        connect_timeout: float,
        **_backend_options,
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
    def options_of(cls, settings: Settings) -> dict:
        """The keyword arguments of this backend's own settings (none but the common ones)."""
        return {}

    async def start(self) -> None:
        """Begin what runs beside the requests (a replica's checks); after migrating."""

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

    def read_direct(self, after: int = NONE) -> AbstractAsyncContextManager[Runner]:
        """A Runner for the hot read path, each statement on its own, that sees position
        `after` and the request's (db/positions.py; only replicas may not)."""
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
        """A connection for reads, each statement on its own (autocommit), on the primary: it
        sees every write. (Reads a replica may answer: `reading`, `read_direct`.)"""
        async with self._turn(), self.reader.connect() as conn:
            yield conn

    async def reading(
        self, work: Callable[[AsyncConnection], Awaitable[T]], after: int = NONE
    ) -> T:
        """What `work(conn)` returns, run on a connection that sees position `after` and the
        request's (db/positions.py): the primary's, or a replica's that has replayed them. A
        replica failing under it runs it again on the primary: `work` reads, and nothing else."""
        async with self.read() as conn:
            return await work(conn)

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
