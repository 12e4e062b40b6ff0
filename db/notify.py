"""Wake-ups: the requests waiting on a session learn that an append to it has committed.

Waiters register with `watch(session_id)` before they read the database, then sleep on the event
it gives them; whatever wakes them, they read the database again, so a wake-up is only a hint and
a lost or extra one costs nothing but latency.

- SQLite (one process): the handler that committed an append calls `committed()`, which wakes
  the session's waiters in this process.
- PostgreSQL (any number of processes): the append transaction sends NOTIFY on CHANNEL (payload
  "<session id>:<last seq>", delivered at commit); each process holds one LISTEN connection and
  fans the notification out to its own waiters. If that connection is lost, every waiter is woken
  once a second until it is back, and once more when it is, so no one waits on a signal that
  cannot come.
- With replicas, a wake-up carries where the primary stood once the notified commit was made
  (asked on the listening connection as notifications come, one question for a burst of them),
  and `position_of(session)` keeps it: the woken reads that session's news only from a replica
  that has replayed that far (db/replicas.py), so no wake-up is lost to a replica's lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator

import asyncpg
import structlog

from session_events.db import positions

CHANNEL = "session_events"  # the one channel: appends NOTIFY on it (db/postgres_sql.py)
POSITIONS_KEPT = 100_000  # sessions whose last wake-up's position is remembered
log = structlog.get_logger("session_events.notify")


class Notifier:
    """In-process fan-out; on its own, the notifier of a single-process (SQLite) server."""

    def __init__(self):
        self._watchers: dict[uuid.UUID, set[asyncio.Event]] = defaultdict(set)
        self._kinds: Counter[str] = Counter()
        self._followers: list[Callable[[uuid.UUID | None], None]] = []
        # Set when the server begins to shut down: waiters answer or end now.
        self.closing = asyncio.Event()

    @contextlib.contextmanager
    def watch(
        self, session_id: uuid.UUID, kind: str = "long_poll", event: asyncio.Event | None = None
    ) -> Iterator[asyncio.Event]:
        """Register a waiter (a session's hub, or a long_poll or stream of its own) for wake-ups
        of this session; `event` is the one to set, a new one by default."""
        if event is None:
            event = asyncio.Event()
        self._watchers[session_id].add(event)
        self._kinds[kind] += 1
        try:
            yield event
        finally:
            self._kinds[kind] -= 1
            watchers = self._watchers.get(session_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._watchers[session_id]

    @contextlib.contextmanager
    def follow(self, told: Callable[[uuid.UUID | None], None]) -> Iterator[None]:
        """Tell `told` of every session woken, and None at every wake_all, while inside."""
        self._followers.append(told)
        try:
            yield
        finally:
            self._followers.remove(told)

    def position_of(self, session_id: uuid.UUID) -> int:
        """The position a read of the session's news must see (0: none; see PostgresNotifier)."""
        return 0

    @property
    def latest(self) -> int:
        """The position a read of any session's news must see."""
        return 0

    @property
    def watching(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    def watching_by_kind(self) -> dict[str, int]:
        return {kind: self._kinds[kind] for kind in ("long_poll", "stream")}

    def shutdown(self) -> None:
        """The server stops: every waiter answers now (long-polls) or ends (streams)."""
        self.closing.set()
        self.wake_all()

    def wake(self, session_id: uuid.UUID) -> None:
        for event in self._watchers.get(session_id, ()):
            event.set()
        for told in self._followers:
            told(session_id)

    def wake_all(self) -> None:
        for watchers in self._watchers.values():
            for event in watchers:
                event.set()
        for told in self._followers:
            told(None)

    def committed(self, session_id: uuid.UUID) -> None:
        """An append to the session has committed in this process."""
        self.wake(session_id)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.wake_all()


class PostgresNotifier(Notifier):
    """One LISTEN connection per process, kept alive and re-established when lost."""

    def __init__(
        self,
        dsn: str,
        *,
        check_every: float = 5.0,
        retry_every: float = 1.0,
        measure: bool = False,
    ):
        super().__init__()
        self._dsn = dsn
        self._check_every = check_every
        self._retry_every = retry_every
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()
        # With replicas: where each notified session's last commit left the primary (the
        # newest POSITIONS_KEPT), and below it all, `floor`: what a session not kept needs.
        self._measure = measure
        self._positions: OrderedDict[uuid.UUID, int] = OrderedDict()
        self._floor = 0
        self._latest = 0
        self._unasked: set[uuid.UUID] = set()  # woken to read the primary: not measured
        self._unmeasured: set[uuid.UUID] = set()
        self._measuring: asyncio.Task | None = None
        self._asking = asyncio.Lock()  # one statement at a time on the connection

    def position_of(self, session_id):
        # The floor too: a measure begun before the listener came back may be kept after it.
        return max(self._positions.get(session_id, self._floor), self._floor)

    @property
    def latest(self):
        return self._latest

    def committed(self, session_id: uuid.UUID) -> None:
        """Nothing to do: the NOTIFY of the transaction reaches this process's listener too."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_listening(), name="session-events-listener")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
        self.wake_all()

    def _on_notification(self, _connection, _pid, _channel, payload: str) -> None:
        try:
            session_id = uuid.UUID(payload.split(":", 1)[0])
        except ValueError:
            return
        if not self._measure:
            return self.wake(session_id)
        self._unmeasured.add(session_id)
        if self._measuring is None or self._measuring.done():
            self._measuring = asyncio.create_task(self._wake_measured())

    async def _wake_measured(self) -> None:
        """Wake the sessions notified, each with where the primary stands now (past their
        commits, which were made before their notifications came); a burst asks once."""
        while self._unmeasured:
            sessions, self._unmeasured = self._unmeasured, set()
            position = await self._position()
            for session_id in sessions:
                self._keep(session_id, position)
                self.wake(session_id)

    async def _position(self) -> int:
        """Where the primary stands; beyond every position if it cannot be asked (the woken
        then read the primary)."""
        connection = self._connection
        try:
            if connection is None:
                raise ConnectionError("no listening connection")
            async with self._asking:
                text = await asyncio.wait_for(connection.fetchval(positions.INSERTED), 5)
        except Exception:  # whatever keeps it from answering: the woken read the primary
            return positions.PRIMARY
        return positions.parse(text) or positions.PRIMARY

    def _keep(self, session_id: uuid.UUID, position: int) -> None:
        if position >= positions.PRIMARY:  # not asked: these read the primary until one is
            self._unasked.add(session_id)
        else:
            self._latest = max(self._latest, position)
            # Asked after the commits of the unasked, so enough for them; else, forgotten,
            # they would set the floor beyond every position and no read would be a replica's.
            for unasked in self._unasked & self._positions.keys():
                self._positions[unasked] = min(self._positions[unasked], position)
            self._unasked.clear()
            if self._floor >= positions.PRIMARY:  # unasked ones forgotten before: as above
                self._floor = position
        self._positions[session_id] = position
        self._positions.move_to_end(session_id)
        while len(self._positions) > POSITIONS_KEPT:
            _, dropped = self._positions.popitem(last=False)
            self._floor = max(self._floor, dropped)

    async def _keep_listening(self) -> None:
        while True:
            try:
                lost = asyncio.Event()
                self._connection = await asyncpg.connect(
                    self._dsn,
                    timeout=5,
                    server_settings={"application_name": "session-events-listener"},
                )
                self._connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await self._connection.add_listener(CHANNEL, self._on_notification)
                if self._measure:  # commits before now were never notified here: all past
                    text = await asyncio.wait_for(self._connection.fetchval(positions.INSERTED), 5)
                    self._floor = self._latest = positions.parse(text) or 0
                    self._positions.clear()
                self.connected.set()
                log.info("listener_connected")
                self.wake_all()  # what was appended while we were away is read again
                while True:  # a closed connection says so; a silently dead one fails the check
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._check_every)
                    if lost.is_set():
                        raise ConnectionError("the listener connection was closed")
                    async with self._asking:
                        await asyncio.wait_for(self._connection.fetchval("SELECT 1"), 5)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure means: reconnect
                if self.connected.is_set():
                    log.warning("listener_lost", error=repr(error))
                self.connected.clear()
                await self._close()
                self.wake_all()
                await asyncio.sleep(self._retry_every)

    async def _close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)
