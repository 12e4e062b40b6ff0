"""The hot path's DriverConnection: asyncpg itself, on a connection of SQLAlchemy's pool."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc as sa

from db.engine import Database

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


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
            first = await conn.fetchrow("SELECT pg_backend_pid() AS pid")

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
            second = await asyncio.wait_for(conn.fetchrow("SELECT pg_backend_pid() AS pid"), 5)
        assert second["pid"] != first["pid"]
    finally:
        await database.dispose()
