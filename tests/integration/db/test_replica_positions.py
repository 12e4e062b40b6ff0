"""Where reads and writes stand with replicas, on the service's own Database and hubs:
- a request's Events-Position is its own: a hub a request starts (a task that copies its
  context and outlives it) never reads at the position that one client sent (any position);
- a committed write answers its position without another turn at the pool;
- a hub that reads a session's finish believes it, whichever replica it asks next;
- a read a replica fails under is made again on the primary.

Real parts: the run's topology (primary, lagging replica; a second replica where needed); a
read may wait for ever for a position no one has written, so waiting would hang the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from session_events.db import positions
from session_events.db import sessions as db_sessions
from session_events.db.notify import Notifier
from session_events.db.postgres import PostgresDatabase
from session_events.db.urls import parse_database_url
from session_events.handlers.sessions_feed import Feed, Filters
from session_events.handlers.sessions_hub import SessionsHub
from session_events.hubs import Hubs
from session_events.watcher import Watcher
from support.pg_server import PostgresServer
from tests.conftest import TopologyOfRun, reset_topology

HANG = 30  # seconds: only a hang takes this long


@pytest.fixture
def topology_database(topology):
    found = topology.require()
    asyncio.run(reset_topology(found, TopologyOfRun.DATABASE))
    return found


@contextlib.asynccontextmanager
async def replicated_database(
    topology, pool_size: int = 2, pool_timeout: float = 5, also: tuple[str, ...] = ()
) -> AsyncIterator[PostgresDatabase]:
    """The topology's primary with its replica (and `also` these), started, where a read waits
    as long as it takes for a replica to reach its position, and none is too far behind to be
    read; disposed of when the block ends."""
    database = PostgresDatabase(
        parse_database_url(topology.primary_url(TopologyOfRun.DATABASE)),
        replica_urls=(topology.replica_url(TopologyOfRun.DATABASE), *also),
        replica_max_lag=10 * HANG,
        replica_wait=10 * HANG,
        pool_size=pool_size,
        pool_timeout=pool_timeout,
        statement_timeout=5,
        connect_timeout=5,
    )
    await database.start()
    try:
        yield database
    finally:
        await database.dispose()


def test_a_hub_started_by_a_request_does_not_read_at_the_requests_position(topology_database):
    topology = topology_database

    async def run():
        async with replicated_database(topology) as database:
            hubs = Hubs(database, Notifier(), heartbeat=30, queue_bytes=1 << 20)
            # As RequestContext does for a request whose header names a position never reached.
            positions.requested.set(positions.PRIMARY - 1)
            hub = hubs.join(uuid.uuid4(), Watcher(None, 0, 0))
            positions.requested.set(positions.NONE)
            # The session does not exist: the hub's first read ends it, if it reads at all.
            await asyncio.wait_for(asyncio.shield(hub.task), HANG)

    asyncio.run(run())


def test_the_sessions_hub_started_by_a_request_does_not_read_at_its_position(topology_database):
    topology = topology_database

    async def run():
        async with replicated_database(topology) as database:
            async with database.write() as conn:
                session = await db_sessions.create_session(conn, session_type="b")
            await asyncio.to_thread(topology.wait_for_replay)
            notifier = Notifier()
            hub = SessionsHub(database, notifier, queue_bytes=1 << 20)
            positions.requested.set(positions.PRIMARY - 1)  # as in the test above
            with hub.subscribe(Feed(Filters(None, frozenset()))) as subscriber:
                positions.requested.set(positions.NONE)
                subscriber.join()
                notifier.wake(session["id"])  # its hub reads it and hands it on, if it reads
                await asyncio.wait_for(subscriber.ready.wait(), HANG)
                assert str(session["id"]).encode() in b"".join(subscriber.take())
            await hub.stop()

    asyncio.run(run())


@pytest.mark.parametrize("kind", ["write", "write_direct"])
def test_a_committed_write_answers_its_position_without_another_turn_at_the_pool(
    topology_database, kind
):
    """The position is asked on the write's own connection: a write that committed is not
    failed afterwards by a pool every connection of which others hold (pool_timeout)."""
    topology = topology_database

    async def run():
        async with replicated_database(topology, pool_size=1, pool_timeout=1) as database:
            written = [positions.NONE]
            positions.written.set(written)  # as RequestContext does for a request
            holding = asyncio.Event()

            async def hold_the_pool():  # queued behind the write, then holds past pool_timeout
                async with database.write_direct():
                    holding.set()
                    await asyncio.sleep(3)

            async with getattr(database, kind)() as conn:
                other = asyncio.create_task(hold_the_pool())
                await asyncio.sleep(0.2)  # `other` waits for the pool's one turn
                if kind == "write":
                    await conn.execute(text("CREATE TEMP TABLE written (n int)"))
                else:
                    await conn.value("SELECT txid_current()::text")
            await asyncio.wait_for(holding.wait(), HANG)
            assert written[0] > positions.NONE
            await other

    asyncio.run(run())


@pytest.fixture
def second_replica(topology_database):
    """Another replica of the topology's primary, replaying at once."""
    replica = PostgresServer().start(replica_of=topology_database.primary)
    yield replica
    replica.stop()


def test_a_hub_that_reads_a_session_finish_ends_its_streams_whatever_replica_it_asks(
    topology_database, second_replica
):
    """The finish read from one replica is not denied by another one further behind: a stream
    of a finished session ends, as nothing appended later would wake its hub to look again."""
    topology = topology_database

    async def run():
        url = topology.replica_url(TopologyOfRun.DATABASE)
        behind = url.replace(str(topology.replica.port), str(second_replica.port))
        async with replicated_database(topology, also=(behind,)) as database:
            async with database.write() as conn:
                session = await db_sessions.create_session(conn, session_type="b")
            session_id = session["id"]
            await asyncio.to_thread(topology.wait_for_replay)
            notifier = Notifier()
            hubs = Hubs(database, notifier, heartbeat=30, queue_bytes=1 << 20)
            watcher = Watcher(None, 0, limit=1 << 20)
            hub = hubs.join(session_id, watcher)
            while hub.cursor is None:  # its first read: the session, pending
                await asyncio.sleep(0.05)
            second_replica.psql("SELECT pg_wal_replay_pause()")
            async with database.write() as conn:
                await db_sessions.update_session_status(conn, session_id, "completed")
            # The topology's own replica has the finish, once its delay is over.
            await asyncio.to_thread(topology.wait_for_replay)
            for _ in range(6):  # reads go round both replicas
                notifier.wake(session_id)
                await asyncio.sleep(0.3)
            assert hub.cursor >= 1
            assert watcher.last is not None  # ended: the session is finished
            second_replica.psql("SELECT pg_wal_replay_resume()")

    asyncio.run(run())


def test_a_read_the_replica_fails_under_is_made_again_on_the_primary(topology_database):
    """A replica that goes away in the middle of a read (here: its backend is terminated under
    the read's second statement) costs the read nothing: it is made again on the primary, and
    the replica is out of use. A read that fails for its own reason, or is too slow, is not
    made again."""
    topology = topology_database

    async def run():
        async with replicated_database(topology) as database:
            replica = database.replicas.replicas[0]
            assert replica.in_use
            tries: list[bool] = []

            async def wrong(conn):
                tries.append(await conn.scalar(text("SELECT pg_is_in_recovery()")))
                return await conn.scalar(text("SELECT 1 / 0"))

            with pytest.raises(Exception, match="division by zero"):
                await database.reading(wrong)
            assert tries == [True]  # on the replica, once
            assert replica.in_use

            async def slow(conn):  # too slow for the replica: it would be for the primary too
                tries.append(await conn.scalar(text("SELECT pg_is_in_recovery()")))
                await conn.execute(text("SET statement_timeout = 50"))
                return await conn.scalar(text("SELECT pg_sleep(1)"))

            with pytest.raises(Exception, match="statement timeout"):
                await database.reading(slow)
            assert tries == [True, True]
            assert replica.in_use

            where: list[bool] = []

            async def work(conn):
                where.append(await conn.scalar(text("SELECT pg_is_in_recovery()")))
                if len(where) == 1:
                    await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
                return await conn.scalar(text("SELECT count(*) FROM sessions"))

            assert await database.reading(work) == 0
            assert where == [True, False]  # the replica's, then the primary's
            assert not replica.in_use

    asyncio.run(run())


def test_the_checks_go_on_while_every_pool_connection_is_taken(topology_database):
    """Reads holding every connection of the replica's pool and of the primary's hold up
    neither a replica's check nor a sample of the primary's position: the replica stays in use
    with a fresh reading, rather than being marked unreachable when the pool's wait times out
    (and every read moved to the primary just when reads are many)."""
    topology = topology_database

    async def run():
        async with replicated_database(topology, pool_size=2, pool_timeout=3) as database:
            replicas = database.replicas
            replica = replicas.replicas[0]
            assert replica.in_use
            async with contextlib.AsyncExitStack() as held:
                for pool in (replica.database, database):
                    for _ in range(2):
                        await held.enter_async_context(pool.read_direct(positions.PRIMARY))
                # Each within a second, not after the pools' 3 s wait.
                assert await asyncio.wait_for(replicas.primary_position(), 1) > positions.NONE
                await asyncio.wait_for(replicas.check(), 1)
                assert replica.in_use, replica.error
            # Each keeps its one connection, rather than connecting again at every check.
            assert replica.checks.pool.checkedin() == database.sampler.pool.checkedin() == 1

    asyncio.run(run())
