"""db/slots.py: the hot path's connection slots (arrival order, one timeout, cancellation)."""

from __future__ import annotations

import asyncio
import time

import pytest

from db.slots import Slots


async def _waiting(slots: Slots, served: list, name: str) -> asyncio.Task:
    async def wait():
        await slots.take()
        served.append(name)

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)  # it is now in the queue
    return task


async def test_free_slots_are_taken_at_once_then_the_slots_are_locked():
    slots = Slots(2, timeout=1)
    await slots.take()
    assert not slots.locked()
    await slots.take()
    assert slots.locked()
    slots.release()
    assert not slots.locked()


async def test_waiters_get_released_slots_in_arrival_order():
    slots = Slots(1, timeout=5)
    await slots.take()
    served = []
    tasks = [await _waiting(slots, served, name) for name in ("a", "b", "c")]
    for _ in tasks:
        slots.release()
        await asyncio.sleep(0.01)
    assert served == ["a", "b", "c"]
    assert slots.locked()  # the last waiter holds the slot


async def test_a_waiter_gives_up_after_the_timeout_and_the_slot_stays_counted():
    slots = Slots(1, timeout=0.2)
    await slots.take()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await slots.take()
    assert 0.15 < time.monotonic() - started < 1.5
    slots.release()
    await asyncio.wait_for(slots.take(), 0.1)  # the released slot is free, not lost


async def test_each_waiter_keeps_its_own_deadline():
    slots = Slots(1, timeout=0.3)
    await slots.take()
    gave_up = {}

    async def wait(name):
        try:
            await slots.take()
        except TimeoutError:
            gave_up[name] = time.monotonic() - started

    started = time.monotonic()
    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(wait("second"))
    await asyncio.wait_for(asyncio.gather(first, second), 3)
    assert 0.25 < gave_up["first"] < gave_up["second"]
    assert gave_up["second"] > 0.45  # its own 0.3 s, not the first waiter's deadline


async def test_a_cancelled_waiter_is_skipped():
    slots = Slots(1, timeout=5)
    await slots.take()
    served = []
    cancelled = await _waiting(slots, served, "cancelled")
    kept = await _waiting(slots, served, "kept")
    cancelled.cancel()
    await asyncio.sleep(0)
    slots.release()
    await asyncio.wait_for(kept, 1)
    assert served == ["kept"]


async def test_a_slot_handed_to_a_waiter_cancelled_before_it_ran_goes_to_the_next():
    slots = Slots(1, timeout=5)
    await slots.take()
    served = []
    first = await _waiting(slots, served, "first")
    second = await _waiting(slots, served, "second")
    slots.release()  # handed to the first waiter...
    first.cancel()  # ...which is cancelled before it resumes
    await asyncio.wait_for(second, 1)
    assert served == ["second"]
    assert first.cancelled()
    slots.release()
    assert not slots.locked()
