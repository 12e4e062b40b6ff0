"""PostgreSQL: any number of server processes on one primary, maybe behind a transaction pooler,
maybe with streaming replicas that serve reads.

- The pool's hot statements run on the driver (db/fast_pg.py), reached through turns.
- Waiters are woken by LISTEN/NOTIFY on a direct connection of each process (db/notify.py).
- Behind a transaction pooler (EVENTS_DATABASE_POOLER=transaction) nothing outlives a
  transaction: no statement stays prepared (asyncpg's cache is off, and with it SQLAlchemy's
  statements are unnamed), and no startup parameter but application_name is sent, which is all
  PgBouncer passes on, so the statement timeout is the driver's (it cancels the statement).
- With replicas (db/replicas.py) a read goes to one that has replayed what the read must see,
  else to the primary; a replica that fails a read (`reading`, or the hot reads'
  FailoverRunner in db/failover.py) is left for the primary on the spot, and the read is made
  there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from session_events.db import positions
from session_events.db.database import Database
from session_events.db.errors import is_unavailable, postgres_timed_out
from session_events.db.failover import FailoverRunner, gone
from session_events.db.fast_pg import DriverConnections
from session_events.db.notify import PostgresNotifier
from session_events.db.replicas import CHECK_TIMEOUT, Replica, Replicas
from session_events.db.statements import Runner
from session_events.db.urls import parse_database_url, url_text

# Held while migrating so that several server processes starting at once migrate one at a time.
PG_MIGRATION_LOCK = 7_004_231_977
APPLICATION_NAME = "session-events"
# What the primary has flushed, which a replica can reach, for lags (positions.INSERTED for
# what reads must see).
FLUSHED = "SELECT pg_current_wal_flush_lsn()::text"


def connect_args(pooler: str, statement_timeout: float, connect_timeout: float) -> dict:
    """asyncpg's options for a pool's connections, direct or through a transaction pooler."""
    if pooler == "transaction":
        return {
            "timeout": connect_timeout,
            "command_timeout": statement_timeout,
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,  # SQLAlchemy's own cache of prepared ones
            "server_settings": {"application_name": APPLICATION_NAME},
        }
    return {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout + 1,  # the client's backstop
        "server_settings": {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(int(statement_timeout * 1000)),
        },
    }


class PostgresDatabase(Database):
    backend = "postgresql"
    driver = "postgresql+asyncpg"
    wakes_other_processes = True

    def __init__(
        self,
        url: URL,
        *,
        pooler: str = "none",
        listen_url: str | None = None,
        replica_urls: tuple[str, ...] = (),
        replica_max_lag: float = 5.0,
        replica_wait: float = 0.1,
        **common,
    ):
        self.pooler = pooler
        self.listen_url = listen_url or url_text(url)
        super().__init__(url, **common)
        self.replicas: Replicas | None = None
        self.sampler: AsyncEngine | None = None
        if replica_urls:
            found = [self.replica(replica_url, common) for replica_url in replica_urls]
            # The primary's position is asked where the pool connects (through a pooler if one
            # is used, which holds no server connection for it between samples).
            self.sampler = self.watch_engine(url)
            self.replicas = Replicas(
                found, self.flushed_position, max_lag=replica_max_lag, wait=replica_wait
            )

    @classmethod
    def options_of(cls, settings):
        return {
            "pooler": settings.database_pooler,
            "listen_url": settings.listen_url,
            "replica_urls": settings.replica_urls,
            "replica_max_lag": settings.replica_max_lag_seconds,
            "replica_wait": settings.replica_wait_seconds,
        }

    def replica(self, replica_url: str, common: dict) -> Replica:
        # Replicas are reached directly: their statements stay prepared, which makes a read
        # cost the service 2 to 3 times less CPU than one through a transaction pooler.
        url = parse_database_url(replica_url)
        name = f"{url.host}:{url.port or 5432}/{url.database}"
        return Replica(name, PostgresDatabase(url, **common), self.watch_engine(url))

    @classmethod
    def watch_engine(cls, url: URL) -> AsyncEngine:
        """One connection kept for the replicas' checks and the primary's samples, apart from
        the pool that reads take turns at: reads holding all of it neither hold up a check
        nor, when the pool's wait runs out, have a replica marked unreachable. Autocommit: a
        check is one round trip (every 10 ms while a read waits for a replica)."""
        options = cls.probe_options(CHECK_TIMEOUT)
        options["server_settings"] = {"application_name": f"{APPLICATION_NAME}-checks"}
        return cls.engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=CHECK_TIMEOUT,
            isolation_level="AUTOCOMMIT",
            connect_args=options,
        )

    def connect(self, statement_timeout, connect_timeout):
        options = connect_args(self.pooler, statement_timeout, connect_timeout)
        writer = self.pooled_engine(pool_size=self.pool_size, connect_args=options)
        self.connections = DriverConnections(writer, self.pool_size, self.pool_timeout)
        return writer, writer.execution_options(isolation_level="AUTOCOMMIT")

    async def start(self):
        if self.replicas:
            await self.replicas.start()

    async def dispose(self):
        async with AsyncExitStack() as engines:  # each disposed, whatever fails (last first)
            engines.push_async_callback(super().dispose)
            if self.replicas:
                engines.push_async_callback(self.sampler.dispose)
                engines.push_async_callback(self.replicas.stop)

    def replica_status(self):
        return self.replicas.status() if self.replicas else []

    @classmethod
    def probe_options(cls, timeout):
        # A probe's connection is its own, used once: nothing to keep prepared, and nothing that
        # a transaction pooler could hand to another client's statement of the same name.
        return {"timeout": timeout, "statement_cache_size": 0, "prepared_statement_cache_size": 0}

    def notifier(self):
        return PostgresNotifier(self.listen_url, measure=self.replicas is not None)

    async def take_migration_turn(self, conn):
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
        await conn.execute(text("SET LOCAL statement_timeout = 0"))  # DDL may take long

    @staticmethod
    def timed_out(error):
        return postgres_timed_out(error)

    def _turn(self):
        return self.connections.turn()

    # -- where a read goes, and where a write left the primary --------------------------------
    # Without replicas each is the primary's own, with nothing added on the way.

    def read_direct(self, after=positions.NONE):
        if self.replicas is None:
            return self.connections.runner()
        return self.replicated_read_direct(after)

    # With replicas a write tells the current request where it left the primary (what a later
    # read may ask them for), asked once it has committed, on its own connection, so that a
    # committed write never waits for a turn at the pool again (and fails after its commit).

    def write(self):
        return super().write() if self.replicas is None else self.noting_write()

    def write_direct(self):
        return self.connections.runner() if self.replicas is None else self.noting_write_direct()

    async def reading(self, work, after=positions.NONE):
        if self.replicas is None:
            return await super().reading(work, after)
        replica = await self.chosen(after)
        if replica is not None:
            try:
                async with AsyncExitStack() as stack:
                    conn = await self.replica_connection(replica, stack)
                    if conn is not None:
                        return await work(conn)
            except Exception as error:  # outside the connection's block: it was let go first
                if not gone(error):
                    raise
                replica.failed(error)
        async with super().read() as conn:
            return await work(conn)

    @staticmethod
    async def replica_connection(replica: Replica, stack: AsyncExitStack):
        """A connection of the replica's pool, or None if it is out of reach (it is then out
        of use until a check finds it again)."""
        try:
            conn = await stack.enter_async_context(replica.database.read())
            if (await conn.get_raw_connection()).driver_connection.is_closed():
                raise ConnectionError("the replica closed the connection (it stopped?)")
        except Exception as error:
            if not is_unavailable(error) and not isinstance(error, ConnectionError):
                raise
            replica.failed(error)
            await stack.aclose()
            return None
        return conn

    @asynccontextmanager
    async def replicated_read_direct(self, after: int) -> AsyncIterator[Runner]:
        replica = await self.chosen(after)
        if replica is None:
            async with self.connections.runner() as runner:
                yield runner
            return
        async with AsyncExitStack() as stack:
            try:
                runner = await stack.enter_async_context(replica.database.connections.runner())
            except Exception as error:
                if not is_unavailable(error):
                    raise
                replica.failed(error)
                runner = None
            yield FailoverRunner(replica, runner, self.connections.runner, stack)

    async def chosen(self, after: int) -> Replica | None:
        """The replica to read from (None: the primary): one that has replayed `after` and
        what the current request must see."""
        after = max(after, positions.requested.get())
        return self.replicas.caught_up(after) or await self.replicas.choose(after)

    @asynccontextmanager
    async def noting_write(self) -> AsyncIterator[AsyncConnection]:
        async with self._turn(), self.writer.connect() as conn:
            async with conn.begin():
                yield conn
            if positions.written.get() is not None:  # in a request
                found = await conn.scalar(text(positions.INSERTED))
                positions.note_written(self.position_in(found))
                await conn.rollback()  # the question's own transaction: nothing to keep

    @asynccontextmanager
    async def noting_write_direct(self) -> AsyncIterator[Runner]:
        async with self.connections.runner() as runner:
            yield runner
            if positions.written.get() is not None:  # in a request
                positions.note_written(self.position_in(await runner.value(positions.INSERTED)))

    @staticmethod
    def position_in(text_found: str | None) -> int:
        return positions.parse(text_found) or positions.NONE

    async def flushed_position(self) -> int:
        async with asyncio.timeout(CHECK_TIMEOUT), self.sampler.connect() as conn:
            return self.position_in(await conn.scalar(text(FLUSHED)))
