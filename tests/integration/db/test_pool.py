"""PostgreSQL's pool: checkouts skip the greenlet while none must connect; turns time out."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import pytest
from sqlalchemy import Integer, bindparam, event, func, insert, select
from sqlalchemy import exc as sa
from sqlalchemy.util.concurrency import in_greenlet

from session_events.db.engine import open_database
from session_events.db.errors import is_unavailable
from session_events.db.statements import compile_statement
from session_events.db.tables import event_type_counts
from session_events.settings import Settings


@pytest.fixture
async def pg(postgres):
    database = open_database(Settings(database_url=postgres.require(), db_pool_size=2))
    in_greenlets: list[bool] = []  # one per checkout: was it made in a greenlet?
    event.listen(
        database.writer.sync_engine, "checkout", lambda *_: in_greenlets.append(in_greenlet())
    )
    yield database, in_greenlets
    await database.dispose()


async def backend_pid(runner) -> int:
    statement = compile_statement(select(func.pg_backend_pid()), runner.dialect)
    return (await runner.rows(statement, {}))[0][0]


async def terminate(runner, pid: int) -> None:
    kill = select(func.pg_terminate_backend(bindparam("pid", type_=Integer)))
    await runner.rows(compile_statement(kill, runner.dialect), {"pid": pid})


async def test_an_idle_live_connection_is_checked_out_without_a_greenlet(pg):
    database, in_greenlets = pg
    for _ in range(3):
        async with database.read_direct() as runner:
            await backend_pid(runner)
    assert in_greenlets == [True, False, False]  # the first had to connect


async def kill_all(database, size: int, url: str) -> None:
    """End every backend of the pool from the server's side, as a restart does."""
    async with contextlib.AsyncExitStack() as stack:
        runners = [await stack.enter_async_context(database.read_direct()) for _ in range(size)]
        pids = [await backend_pid(runner) for runner in runners]
    outsider = await asyncpg.connect(url)  # not the pool's
    try:
        await outsider.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", pids)
    finally:
        await outsider.close()
    await asyncio.sleep(0.2)


async def outcomes_of(reads: int, read) -> list[str]:
    outcomes = []
    for _ in range(reads):
        try:
            await read()
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(type(error).__name__)
    return outcomes


async def test_connections_the_server_ended_are_replaced_before_the_hot_path_uses_them(
    pg, postgres
):
    database, in_greenlets = pg
    await kill_all(database, 2, postgres.require())
    in_greenlets.clear()

    async def read():
        async with database.read_direct() as runner:
            await backend_pid(runner)

    assert await outcomes_of(6, read) == ["ok"] * 6  # none of them reached a request
    assert True in in_greenlets  # renewed in the greenlet
    assert in_greenlets[-2:] == [False, False]  # and then quick again


async def test_after_a_restart_the_core_path_fails_once_and_renews_the_whole_pool(pg, postgres):
    database, _ = pg
    await kill_all(database, 2, postgres.require())

    async def read():
        async with database.read() as conn:
            await conn.execute(select(func.pg_backend_pid()))

    outcomes = await outcomes_of(4, read)
    assert outcomes[0] in ("InterfaceError", "OperationalError")  # an outage: a 503
    assert outcomes[1:] == ["ok", "ok", "ok"]  # one, not one per connection


async def test_a_request_finding_no_turn_within_the_pool_timeout_is_an_outage(postgres):
    database = open_database(
        Settings(database_url=postgres.require(), db_pool_size=1, db_pool_timeout=0.2)
    )
    try:
        async with database.read_direct():
            with pytest.raises(sa.TimeoutError, match=r"no connection free within 0\.2 s"):
                async with asyncio.timeout(2), database.read_direct():
                    pass
        async with database.read_direct() as runner:  # the turn was not lost
            await backend_pid(runner)
    finally:
        await database.dispose()


async def test_a_statement_past_its_timeout_on_the_hot_path_is_an_outage_and_keeps_the_connection(
    postgres,
):
    database = open_database(
        Settings(database_url=postgres.require(), db_pool_size=1, db_statement_timeout=0.2)
    )
    try:
        sleep = compile_statement(select(func.pg_sleep(2)), database.writer.dialect)
        async with database.read_direct() as runner:
            pid = await backend_pid(runner)
            with pytest.raises(sa.OperationalError) as raised:
                await runner.rows(sleep, {})
            assert is_unavailable(raised.value) and not runner.broken
        async with database.read_direct() as runner:
            assert await backend_pid(runner) == pid  # kept: a timeout is not a broken connection
    finally:
        await database.dispose()


async def test_a_connection_killed_mid_statement_is_invalidated_not_reused(pg, postgres):
    database, _ = pg
    sleep = compile_statement(select(func.pg_sleep(5)), database.writer.dialect)
    with pytest.raises(sa.OperationalError) as raised:
        async with database.read_direct() as runner:
            pid = await backend_pid(runner)
            outsider = await asyncpg.connect(postgres.require())
            killing = asyncio.create_task(
                outsider.execute("SELECT pg_sleep(0.2), pg_terminate_backend($1)", pid)
            )
            try:
                await runner.rows(sleep, {})
            finally:
                await killing
                await outsider.close()
    assert is_unavailable(raised.value)
    for _ in range(3):
        async with database.read_direct() as runner:
            assert await backend_pid(runner) != pid


async def test_a_constraint_broken_on_the_hot_path_is_an_integrity_error(pg):
    database, _ = pg
    orphan = insert(event_type_counts).values(
        session_id=bindparam("session_id", type_=event_type_counts.c.session_id.type),
        event_type="a",
        events=1,
    )
    async with database.read_direct() as runner:
        with pytest.raises(sa.IntegrityError):  # no such session: its foreign key
            await runner.rows(
                compile_statement(orphan, runner.dialect), {"session_id": uuid.uuid4()}
            )
        assert not runner.broken
