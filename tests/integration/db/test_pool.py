"""PostgreSQL's pool: checkouts skip the greenlet while none must connect; turns time out."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Integer, bindparam, event, func, select
from sqlalchemy import exc as sa
from sqlalchemy.util.concurrency import in_greenlet

from db.engine import Database
from db.statements import compile_statement


@pytest.fixture
async def pg(postgres):
    database = Database(postgres.require(), pool_size=2)
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


async def test_a_dead_connection_reconnects_in_a_greenlet_then_checkouts_are_quick_again(pg):
    database, in_greenlets = pg
    async with database.read_direct() as doomed, database.read_direct() as killer:
        await terminate(killer, await backend_pid(doomed))
    await asyncio.sleep(0.2)
    in_greenlets.clear()
    outcomes = []
    for _ in range(5):
        try:
            async with database.read_direct() as runner:
                await backend_pid(runner)
            outcomes.append("ok")
        except Exception as error:  # the dead one fails once, as an outage
            outcomes.append(type(error).__name__)
    assert outcomes.count("OperationalError") <= 1
    assert outcomes[-2:] == ["ok", "ok"]
    assert True in in_greenlets  # the dead one reconnected in a greenlet
    assert in_greenlets[-1] is False  # and then none had to


async def test_a_request_finding_no_turn_within_the_pool_timeout_is_an_outage(postgres):
    database = Database(postgres.require(), pool_size=1, pool_timeout=0.2)
    try:
        async with database.read_direct():
            with pytest.raises(sa.TimeoutError, match=r"no connection free within 0\.2 s"):
                async with asyncio.timeout(2), database.read_direct():
                    pass
        async with database.read_direct() as runner:  # the turn was not lost
            await backend_pid(runner)
    finally:
        await database.dispose()
