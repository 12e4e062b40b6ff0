"""This process's hubs (session_events/hub.py), one by watched session: a session's first
watcher makes its hub, its last one's leaving drops it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from session_events.db.engine import Database
from session_events.db.notify import Notifier
from session_events.hub import SessionHub
from session_events.watcher import Watcher


class Hubs:
    """This process's hubs, by session id."""

    def __init__(
        self,
        database: Database,
        notifier: Notifier,
        *,
        heartbeat: float,
        queue_bytes: int,
        delivered: Callable[[float], None] = lambda seconds: None,
        ended_slow: Callable[[], None] = lambda: None,
    ):
        self.database = database
        self.notifier = notifier
        self.heartbeat = heartbeat
        self.queue_bytes = queue_bytes
        self.delivered = delivered  # observes a commit-to-socket delay, in seconds
        self.ended_slow = ended_slow  # counts a stream ended for reading too slowly
        self.hubs: dict[uuid.UUID, SessionHub] = {}
        self.closing = False

    def join(self, session_id: uuid.UUID, watcher: Watcher) -> SessionHub:
        hub = self.hubs.get(session_id)
        if hub is None:
            hub = self.hubs[session_id] = SessionHub(self, session_id)
        hub.add(watcher)
        if self.closing:
            watcher.leave()
        return hub

    def shutdown(self) -> None:
        """The server stops: every watcher ends (a long-poll answers) now."""
        self.closing = True
        for hub in list(self.hubs.values()):
            for watcher in list(hub.watchers):
                watcher.leave()

    def counts(self) -> dict[str, int]:
        streams = polls = queued = 0
        for hub in self.hubs.values():
            for watcher in hub.watchers:
                if watcher.limit:
                    streams += 1
                    queued += watcher.queued
                else:
                    polls += 1
        return {"sessions": len(self.hubs), "stream": streams, "long_poll": polls, "bytes": queued}
