"""Whether a session token is still good, across server processes, within RECHECK seconds.

A token's signature and expiry are checked without the database; whether it was revoked (or
its session deleted) is the database's to say. Each process asks at most once per RECHECK for
a token (concurrent requests share one read), so a poller holding a token costs a lookup a
second, not one a request; and a revocation made by any process is seen by all within RECHECK.

Streams opened with a token are watched: one read per RECHECK for all the tokens watched in
this process, and one timer per token at its expiry, end them with `event: auth_expired`.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from session_events.db import tokens as db_tokens
from session_events.db.engine import Database
from session_events.tokens import EXPIRED, REVOKED, Grant, TokenRefused

log = structlog.get_logger("session_events.revocations")

# Half a second, so that a revocation is seen everywhere within the second the issue asks.
RECHECK = 0.5
# Past this many remembered tokens, the stale ones are forgotten.
REMEMBERED = 10_000

Ending = Callable[[str], None]  # ends a stream, with the detail of its auth_expired


class Revocations:
    def __init__(self, database: Database, recheck: float = RECHECK):
        self.database = database
        self.recheck = recheck
        self._good: dict[uuid.UUID, float] = {}  # token id -> when last found good (monotonic)
        self._reading: dict[uuid.UUID, asyncio.Task] = {}
        self._streams: dict[uuid.UUID, set[Ending]] = {}
        self._sessions: dict[uuid.UUID, uuid.UUID] = {}  # token id -> its session, once seen
        self._expiries: dict[uuid.UUID, asyncio.TimerHandle] = {}
        self._watching: asyncio.Task | None = None

    async def check(self, grant: Grant) -> None:
        """TokenRefused(REVOKED) unless the grant's token is kept and not revoked."""
        seen = self._good.get(grant.token_id)
        if seen is not None and time.monotonic() - seen < self.recheck:
            return
        reading = self._reading.get(grant.token_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read(grant.token_id))
            self._reading[grant.token_id] = reading
            reading.add_done_callback(functools.partial(self._read_done, grant.token_id))
        if not await asyncio.shield(reading):
            raise TokenRefused(REVOKED)
        self._sessions[grant.token_id] = grant.session_id  # found good: revoked_session finds it

    def _read_done(self, token_id: uuid.UUID, reading: asyncio.Task) -> None:
        self._reading.pop(token_id, None)
        if not reading.cancelled():
            reading.exception()  # seen by its waiters, if any are left; never "never retrieved"

    async def _read(self, token_id: uuid.UUID) -> bool:
        # The primary's word: a replica may not have replayed a token's minting or revocation.
        async with self.database.read() as conn:
            good = token_id in await db_tokens.good_tokens(conn, [token_id])
        self._remember(good, [token_id])
        return good

    def _remember(self, good: bool, token_ids) -> None:
        now = time.monotonic()
        if len(self._good) > REMEMBERED:
            self._good = {k: t for k, t in self._good.items() if now - t < self.recheck}
            self._sessions = {
                k: s for k, s in self._sessions.items() if k in self._good or k in self._streams
            }
        for token_id in token_ids:
            if good:
                self._good[token_id] = now
            else:
                self._good.pop(token_id, None)
                if token_id not in self._streams:  # refused from now on: nothing to revoke
                    self._sessions.pop(token_id, None)

    def revoked(self, token_ids) -> None:
        """This process revoked these tokens: refused here from now on (but by a check whose
        read began before the revocation committed), their streams ended."""
        self._remember(False, token_ids)
        for token_id in token_ids:
            self._end(token_id, REVOKED)

    def revoked_session(self, session_id: uuid.UUID) -> None:
        """This process revoked every token of a session (or deleted it)."""
        self.revoked([t for t, s in list(self._sessions.items()) if s == session_id])

    def watch(self, grant: Grant, end: Ending) -> Callable[[], None]:
        """Call `end` with a detail when the grant's token expires or is revoked; returns the
        function that stops watching (the stream ended for another reason)."""
        token_id = grant.token_id
        self._sessions[token_id] = grant.session_id
        ends = self._streams.setdefault(token_id, set())
        ends.add(end)
        if token_id not in self._expiries:
            delay = (grant.expires_at - datetime.now(UTC)).total_seconds()
            loop = asyncio.get_running_loop()
            timer = loop.call_later(max(0.0, delay), self._end, token_id, EXPIRED)
            self._expiries[token_id] = timer
        if self._watching is None or self._watching.done():
            self._watching = asyncio.ensure_future(self._watch())

        def unwatch() -> None:
            ends.discard(end)
            if not ends and self._streams.get(token_id) is ends:
                self._forget(token_id)

        return unwatch

    def _end(self, token_id: uuid.UUID, detail: str) -> None:
        ends = self._streams.get(token_id, ())
        self._forget(token_id)
        for end in list(ends):
            end(detail)

    def _forget(self, token_id: uuid.UUID) -> None:
        self._streams.pop(token_id, None)
        if token_id not in self._good:  # nor found good by a request: nothing to revoke
            self._sessions.pop(token_id, None)
        timer = self._expiries.pop(token_id, None)
        if timer is not None:
            timer.cancel()

    async def _watch(self) -> None:
        """Every RECHECK while streams are watched: one read for all their tokens."""
        while self._streams:
            await asyncio.sleep(self.recheck)
            watched = list(self._streams)
            if not watched:
                break
            try:
                async with self.database.read() as conn:
                    good = await db_tokens.good_tokens(conn, watched)
            except Exception as error:  # the database is out: the streams say so themselves
                log.debug("revocations_unread", error=str(error))
                continue
            self._remember(True, good)
            for token_id in watched:
                if token_id not in good:
                    self._remember(False, [token_id])
                    self._end(token_id, REVOKED)

    def close(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
        for timer in self._expiries.values():
            timer.cancel()
