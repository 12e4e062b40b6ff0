"""The hot path's DriverConnection: asyncpg itself, on a connection of SQLAlchemy's pool."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc as sa

from db.engine import Database

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def backend_pid(conn) -> int:
    return (await conn.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"]


async def test_errors_come_out_as_sqlalchemys(database_url):
    database = Database(database_url, statement_timeout=0.2)
    try:
        async with database.read_direct() as conn:
            with pytest.raises(sa.OperationalError) as timed_out:
                await conn.fetchrow("SELECT pg_sleep(2)")
        assert timed_out.value.orig.sqlstate == "57014"  # statement_timeout
        async with database.read_direct() as conn:
            with pytest.raises(sa.DBAPIError) as bad:
                await conn.fetchrow("SELECT 1 / 0")
            assert not isinstance(bad.value, sa.OperationalError)
            assert (await conn.fetchrow("SELECT 1 AS one"))["one"] == 1  # still usable
    finally:
        await database.dispose()


async def test_a_cancelled_statement_never_returns_its_connection_to_the_pool(database_url):
    database = Database(database_url, pool_size=1)
    try:
        async with database.read_direct() as conn:
            first = await backend_pid(conn)

        async def slow():
            async with database.read_direct() as conn:
                await conn.fetchrow("SELECT pg_sleep(30)")

        task = asyncio.create_task(slow())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The pool's only connection was the cancelled one: the next use gets a new one, at once.
        async with database.read_direct() as conn:
            second = await asyncio.wait_for(backend_pid(conn), 5)
        assert second != first
    finally:
        await database.dispose()


async def test_the_hot_path_keeps_its_connection_without_counting_it_in_use(database_url):
    database = Database(database_url, pool_size=2)
    try:
        async with database.read_direct() as conn:
            first = await backend_pid(conn)
        assert database.pool_in_use() == 0
        async with database.read_direct() as conn:
            assert await backend_pid(conn) == first
            assert database.pool_in_use() == 1
    finally:
        await database.dispose()


async def test_a_core_user_gets_the_connections_the_hot_path_keeps(database_url):
    database = Database(database_url, pool_size=1, pool_timeout=2)
    try:
        async with database.read_direct() as conn:
            await backend_pid(conn)
        # The pool's only connection is idle in the hot path's hand: Core must get it at once.
        async with asyncio.timeout(1), database.read() as conn:
            assert (await conn.exec_driver_sql("SELECT 1")).scalar() == 1
    finally:
        await database.dispose()


@pytest.mark.parametrize("waiter", ["write", "read_direct"])
async def test_a_waiting_request_is_handed_the_next_connection_the_hot_path_finishes(
    database_url, waiter
):
    """Core or hot path: whoever waits in the pool gets the connection a hot-path request
    finishes with, instead of it being kept for a request that has not come yet."""
    database = Database(database_url, pool_size=1, pool_timeout=5)
    try:
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hot():
            async with database.read_direct() as conn:
                await backend_pid(conn)
                holding.set()
                await release.wait()

        async def waiting():
            async with getattr(database, waiter)() as conn:
                if waiter == "write":
                    return (await conn.exec_driver_sql("SELECT 2")).scalar()
                return (await conn.fetchrow("SELECT 2 AS two"))["two"]

        hot_task = asyncio.create_task(hot())
        await holding.wait()
        waiting_task = asyncio.create_task(waiting())
        await asyncio.sleep(0.2)  # it now waits in the pool
        release.set()
        await hot_task
        # Kept by the hot path instead, the connection would reach it after pool_timeout (5 s).
        assert await asyncio.wait_for(waiting_task, 1) == 2
    finally:
        await database.dispose()


async def test_a_broken_connection_drops_every_kept_one(database_url):
    database = Database(database_url, pool_size=3)
    pids = []

    async def hold(seconds):
        async with database.read_direct() as conn:
            pids.append(await backend_pid(conn))
            await asyncio.sleep(seconds)

    try:
        await asyncio.gather(hold(0.1), hold(0.1), hold(0.1))
        assert len(database._idle) == 3
        with pytest.raises(sa.OperationalError):
            async with database.read_direct() as conn:
                # The server ends this session, as a restart would end them all.
                await conn.fetchrow("SELECT pg_terminate_backend(pg_backend_pid())")
        assert database._idle == []
        async with database.read_direct() as conn:
            assert await backend_pid(conn) not in pids
    finally:
        await database.dispose()
