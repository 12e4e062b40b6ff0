"""Streaming replicas that serve reads: which one may answer a read, how far each has replayed,
how far behind the primary each is.

A read names the position it must see (db/positions.py). A replica answers it when it is up,
within EVENTS_REPLICA_MAX_LAG_SECONDS of the primary and known to have replayed that far; else
the read waits up to EVENTS_REPLICA_WAIT_SECONDS for one to catch up, then reads the primary.
Reads that any replica may answer go round the ones in use.

One task per process asks each replica how far it has replayed (`pg_last_wal_replay_lsn()`)
every CHECK_EVERY seconds, and every HURRY_EVERY while a read waits; another samples the
primary's position every CHECK_EVERY, apart, so that a primary pool busy with requests never
holds up what the waiting reads need to know. A replica's lag is the age of the oldest sample
it has not replayed: zero once it has replayed them all, so an idle primary does not make its
replicas look behind (as `now() - pg_last_xact_replay_timestamp()` would).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import text

from session_events.db.positions import NONE, PRIMARY, parse

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from session_events.db.engine import Database

log = structlog.get_logger("session_events.replicas")

CHECK_EVERY = 0.5  # seconds between two checks of every replica and of the primary
CHECK_TIMEOUT = 2.0  # seconds a check may take before its replica is out of use
HURRY_EVERY = 0.01  # between two checks while a read waits for a replica to catch up
# How far a standby has replayed; NULL once promoted (its replay position stays set then).
REPLAYED = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END"


class Replica:
    """One replica: its pool (a Database of its own), the connection its checks keep apart
    from that pool, and what the last check found."""

    def __init__(self, name: str, database: Database, checks: AsyncEngine):
        self.name = name  # host:port/database, never the password
        self.database = database
        self.checks = checks
        self.replayed = NONE
        self.lag: float | None = None
        self.error: str | None = "not checked yet"  # why it is not in use; None: in use

    @property
    def in_use(self) -> bool:
        return self.error is None

    def failed(self, error: BaseException) -> None:
        """A read found it out of reach: out of use until a check finds it again."""
        if self.error is None:
            log.warning("replica_unreachable", replica=self.name, error=type(error).__name__)
        self.error = f"unreachable ({type(error).__name__})"

    def status(self) -> dict:
        lag = None if self.lag is None else round(self.lag, 3)
        return {"name": self.name, "in_use": self.in_use, "lag_seconds": lag, "error": self.error}


class Replicas:
    """The replicas of a primary; `primary_position()` reads the primary's position."""

    def __init__(
        self,
        replicas: list[Replica],
        primary_position: Callable[[], Awaitable[int]],
        *,
        max_lag: float,
        wait: float,
    ):
        self.replicas = replicas
        self.primary_position = primary_position
        self.max_lag = max_lag
        self.wait = wait
        self.turn = itertools.count()
        self.samples: deque[tuple[float, int]] = deque()  # (when, the primary's position)
        self.waiting: list[tuple[int, asyncio.Future]] = []
        self.hurry = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.fallbacks = 0  # reads that waited in vain and went to the primary

    async def start(self) -> None:
        await self.sample_primary()  # the first reads know where the replicas stand
        await self.check()
        self.tasks = [
            asyncio.create_task(self.run(), name="session-events-replicas"),
            asyncio.create_task(self.follow_primary(), name="session-events-primary-position"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with contextlib.AsyncExitStack() as engines:  # each disposed, whatever fails
            for replica in self.replicas:
                engines.push_async_callback(replica.database.dispose)
                engines.push_async_callback(replica.checks.dispose)

    def status(self) -> list[dict]:
        return [replica.status() for replica in self.replicas]

    async def choose(self, after: int) -> Replica | None:
        """A replica in use that has replayed `after`, waiting for one up to `wait` seconds;
        None: read the primary."""
        if after >= PRIMARY:
            return None
        found = self.caught_up(after)
        if found is not None or self.wait <= 0 or not any(r.in_use for r in self.replicas):
            return found
        future = asyncio.get_running_loop().create_future()
        entry = (after, future)
        self.waiting.append(entry)
        self.hurry.set()
        try:
            return await asyncio.wait_for(future, self.wait)
        except TimeoutError:
            self.fallbacks += 1
            return None
        finally:
            with contextlib.suppress(ValueError):
                self.waiting.remove(entry)

    def caught_up(self, after: int) -> Replica | None:
        """A replica in use that has replayed `after`, taking turns; None if there is none."""
        if after >= PRIMARY:
            return None
        ready = [r for r in self.replicas if r.in_use and r.replayed >= after]
        if len(ready) < 2:
            return ready[0] if ready else None
        return ready[next(self.turn) % len(ready)]

    async def run(self) -> None:
        while True:
            if self.waiting:
                await asyncio.sleep(HURRY_EVERY)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.hurry.wait(), CHECK_EVERY)
            self.hurry.clear()
            try:
                await self.check()
            except Exception:  # a check that fails is tried again; reads go to the primary
                log.exception("replica_check_failed")

    async def follow_primary(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            await self.sample_primary()

    async def sample_primary(self) -> None:
        with contextlib.suppress(Exception):  # the primary's outage is told elsewhere
            self.sample(time.monotonic(), await self.primary_position())

    async def check(self) -> None:
        """Ask every replica how far it has replayed, then hand the waiting reads the replicas
        that have caught up with them."""
        await asyncio.gather(*(self.check_one(replica) for replica in self.replicas))
        self.hand_over()

    def hand_over(self) -> None:
        """Give each waiting read a replica that has caught up with it, if one has."""
        for after, future in list(self.waiting):
            replica = self.caught_up(after)
            if replica is not None and not future.done():
                future.set_result(replica)

    def sample(self, now: float, position: int) -> None:
        if not self.samples or position > self.samples[-1][1]:
            self.samples.append((now, position))
        # Older samples only tell that a replica is further behind than the bound allows.
        while len(self.samples) > 1 and self.samples[1][0] < now - 2 * self.max_lag:
            self.samples.popleft()

    async def check_one(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), replica.checks.connect() as conn:
                replayed = parse(await conn.scalar(text(REPLAYED)))
        except Exception as error:
            replica.failed(error)
            replica.lag = None
            return
        if replayed is None:
            replica.error = "not a standby: it replays no primary's log"
            replica.lag = None
            return
        replica.replayed = replayed
        replica.lag = self.lag_of(replayed, time.monotonic())
        if replica.lag > self.max_lag:
            if replica.error is None:
                log.warning("replica_lagging", replica=replica.name, lag=round(replica.lag, 3))
            replica.error = (
                f"{replica.lag:.1f} s behind the primary, more than "
                f"EVENTS_REPLICA_MAX_LAG_SECONDS ({self.max_lag:g})"
            )
        else:
            if replica.error is not None:
                log.info("replica_in_use", replica=replica.name, lag=round(replica.lag, 3))
            replica.error = None

    def lag_of(self, replayed: int, now: float) -> float:
        """How long ago the primary first stood past what the replica has replayed."""
        for when, position in self.samples:
            if position > replayed:
                return now - when
        return 0.0
