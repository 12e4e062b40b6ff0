"""Sleeping on a session's wake-up without holding a database connection, a thread or a client
that has gone away."""

from __future__ import annotations

import asyncio
import enum

from connexion import context


class Woke(enum.Enum):
    WOKEN = "woken"  # something was appended to the session (or the listener says: look again)
    TIMEOUT = "timeout"
    GONE = "gone"  # the client disconnected


async def _client_gone(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def sleep_until_woken(woken: asyncio.Event, timeout: float) -> Woke:
    """Wait for `woken` (then clear it), at most `timeout` seconds, watching for a disconnect."""
    if timeout <= 0:
        return Woke.TIMEOUT
    wake = asyncio.ensure_future(woken.wait())
    gone = asyncio.ensure_future(_client_gone(context.receive))
    try:
        done, _ = await asyncio.wait(
            {wake, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        wake.cancel()
        gone.cancel()
    if wake in done:
        woken.clear()
        return Woke.WOKEN
    return Woke.GONE if gone in done else Woke.TIMEOUT
