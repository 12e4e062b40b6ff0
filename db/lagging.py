"""Reads a lagging replica could answer wrongly, made right: what it does not find, and a page
that stops short of where the reader knows the session reaches, are asked of the primary.

A replica may not have replayed a session's creation yet (a 404 for a session that exists) or
the events a hub read from the primary (a stream's replay short of them). Both are rare, cost
one more read, and happen only with replicas: without them a read is the primary's already.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from session_events.db import pages as db_pages
from session_events.db.database import Database
from session_events.db.positions import NONE, PRIMARY

T = TypeVar("T")


async def found(
    database: Database, read: Callable[[int], Awaitable[T | None]], after: int = NONE
) -> T | None:
    """What `read(after)` finds (it reads at the position it is given); where that is nothing
    and a replica may have answered, what the primary finds."""
    result = await read(after)
    if result is None and database.replicas is not None and after < PRIMARY:
        result = await read(PRIMARY)
    return result


async def page_reaching(
    database: Database, query: db_pages.ListingQuery, upto: int, after: int = NONE
) -> db_pages.Page | None:
    """The page of `query`, read where the session's counter has reached `upto` (or where
    absence is believed: see `found`)."""
    async with database.read_direct(after) as runner:
        page = await db_pages.read_page(runner, query)
    reached = page is not None and page.version.latest_seq >= upto
    if reached or database.replicas is None or after >= PRIMARY:
        return page
    async with database.read_direct(PRIMARY) as runner:
        return await db_pages.read_page(runner, query)
