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
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator

import asyncpg
import structlog

CHANNEL = "session_events"  # the one channel: appends NOTIFY on it (db/dialects.py)
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
    def watch(self, session_id: uuid.UUID, kind: str = "long_poll") -> Iterator[asyncio.Event]:
        """Register a waiter (a long_poll or a stream) for wake-ups of this session."""
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

    def __init__(self, dsn: str, *, check_every: float = 5.0, retry_every: float = 1.0):
        super().__init__()
        self._dsn = dsn
        self._check_every = check_every
        self._retry_every = retry_every
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()

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
        self.wake(session_id)

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
                self.connected.set()
                log.info("listener_connected")
                self.wake_all()  # what was appended while we were away is read again
                while True:  # a closed connection says so; a silently dead one fails the check
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._check_every)
                    if lost.is_set():
                        raise ConnectionError("the listener connection was closed")
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
