"""The hot path's connection slots: a semaphore whose waiters queue in arrival order and give up
after a timeout, all timed by one timer.

An asyncio.Semaphore wrapped in asyncio.timeout() per waiter created and cancelled a timer for
every request that found the pool busy, which under load is nearly every request (50 clients,
10 connections): 3% of the server's time on an unchanged poll (perf/RESULTS.md). Here a waiter
notes its deadline; one timer, set for the oldest waiter's deadline (waiters share the timeout,
so the oldest is the first due), fails whoever is past theirs when it fires and is then set for
the next oldest. A released slot goes straight to the first waiter still waiting.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    def __init__(self, size: int, timeout: float):
        self.free = size
        self.timeout = timeout
        self._waiters: deque[tuple[float, asyncio.Future]] = deque()  # (deadline, future)
        self._timer: asyncio.TimerHandle | None = None

    def locked(self) -> bool:
        return self.free == 0

    async def take(self) -> None:
        """A slot, at once if one is free and nobody waits; TimeoutError after `timeout` s."""
        if self.free and not self._waiters:
            self.free -= 1
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        deadline = loop.time() + self.timeout
        self._waiters.append((deadline, waiter))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # handed a slot just before the cancellation: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():  # not given up (cancelled or timed out)
                waiter.set_result(None)
                return
        self.free += 1

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._waiters and self._waiters[0][0] <= now:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TimeoutError())
        while self._waiters and self._waiters[0][1].done():
            self._waiters.popleft()  # cancelled: no deadline to keep a timer for
        if self._waiters:
            self._timer = loop.call_at(self._waiters[0][0], self._expire)
