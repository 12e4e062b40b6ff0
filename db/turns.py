"""Turns at the connection pool: an asyncio.Semaphore whose waiters share one deadline timer."""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    """`size` turns, taken in arrival order; a wait longer than `timeout` raises TimeoutError.

    Under load nearly every request waits for a turn, and an asyncio.timeout() around each wait
    (a timer made and cancelled per request) cost 3-9% of a read's throughput (perf/RESULTS.md).
    Here every waiter shares one timeout, so the oldest is always the first due: one timer, set
    for the oldest waiter's deadline, cancels the tasks past theirs as asyncio.timeout() would
    (uncancelled, and turned into TimeoutError, unless something else cancelled them too).
    """

    def __init__(self, size: int, timeout: float):
        self.semaphore = asyncio.Semaphore(size)
        self.timeout = timeout
        self.waiting: deque[list] = deque()  # [deadline, task, still waiting], oldest first
        self.expired: set[asyncio.Task] = set()
        self.timer: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        if not self.semaphore.locked():
            await self.semaphore.acquire()  # returns at once
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        while self.waiting and not self.waiting[0][2]:
            self.waiting.popleft()  # served already
        entry = [loop.time() + self.timeout, task, True]
        self.waiting.append(entry)
        if self.timer is None:
            self.timer = loop.call_at(entry[0], self._expire)
        try:
            await self.semaphore.acquire()
        except asyncio.CancelledError:
            if task in self.expired:
                self.expired.discard(task)
                if task.uncancel() == 0:
                    raise TimeoutError from None
            raise
        finally:
            entry[2] = False

    def release(self) -> None:
        self.semaphore.release()

    def _expire(self) -> None:
        self.timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self.waiting and (not self.waiting[0][2] or self.waiting[0][0] <= now):
            _, task, waiting = self.waiting.popleft()
            if waiting:
                self.expired.add(task)
                task.cancel()
        if self.waiting:
            self.timer = loop.call_at(self.waiting[0][0], self._expire)
