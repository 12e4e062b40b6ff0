"""Turns at the pool: arrival order, one shared deadline, cancellation left as it was."""

from __future__ import annotations

import asyncio

import pytest

from session_events.db.fast_pg import Turns


async def test_waiters_take_their_turns_in_arrival_order():
    turns = Turns(1, timeout=5)
    await turns.take()
    order = []

    async def waiter(n):
        await turns.take()
        order.append(n)
        turns.release()

    tasks = [asyncio.create_task(waiter(n)) for n in range(5)]
    await asyncio.sleep(0.01)
    turns.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_a_wait_past_the_timeout_fails_and_the_turns_stay_whole():
    turns = Turns(2, timeout=0.2)
    await turns.take()
    await turns.take()
    started = asyncio.get_running_loop().time()
    late = [asyncio.create_task(turns.take()) for _ in range(3)]
    outcomes = await asyncio.wait_for(asyncio.gather(*late, return_exceptions=True), 2)
    assert [type(o) for o in outcomes] == [TimeoutError] * 3
    assert 0.15 < asyncio.get_running_loop().time() - started < 1
    turns.release()
    turns.release()
    for _ in range(2):  # both turns are free again, none lost to the timeouts
        await asyncio.wait_for(turns.take(), 0.1)
    assert turns.semaphore.locked()


async def test_later_waiters_keep_their_own_deadline():
    turns = Turns(1, timeout=0.3)
    await turns.take()
    first = asyncio.create_task(turns.take())
    await asyncio.sleep(0.2)
    second = asyncio.create_task(turns.take())
    with pytest.raises(TimeoutError):
        await first
    await asyncio.sleep(0.05)
    assert not second.done()  # 0.15 s into its 0.3 s
    turns.release()
    await asyncio.wait_for(second, 0.1)


async def test_a_waiter_cancelled_by_its_caller_is_cancelled_not_timed_out():
    turns = Turns(1, timeout=5)
    await turns.take()
    waiter = asyncio.create_task(turns.take())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    turns.release()
    await asyncio.wait_for(turns.take(), 0.1)  # the cancelled wait took no turn
