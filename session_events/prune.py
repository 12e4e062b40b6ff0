"""`session-events prune`: remove finished sessions past an age, a session per transaction."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from session_events.db import sessions as db_sessions
from session_events.db.engine import Database

UNITS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """'30d', '12h', '90min', '3600s', '2w' -> a timedelta; ValueError with a sentence otherwise.
    A bare 'm' is refused: it reads as minutes to some and as months to others."""
    match = re.fullmatch(r"(\d+)\s*([a-z]+)", text.strip().lower())
    if match and match.group(2) == "m":
        raise ValueError(
            f"--older-than {text!r} is ambiguous: write {match.group(1)}min for minutes, or "
            "days or weeks (180d, 26w) for months"
        )
    if not match or match.group(2) not in UNITS:
        raise ValueError(
            f"--older-than must be a number and a unit (s, min, h, d, w), not {text!r}"
        )
    try:
        age = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        datetime.now(UTC) - age  # a cutoff before year 1 cannot be reckoned
    except OverflowError:
        raise ValueError(f"--older-than {text!r} reaches back past the year 1") from None
    return age


def parse_statuses(text: str) -> tuple[str, ...]:
    statuses = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unfinished = [s for s in statuses if s not in db_sessions.TERMINAL]
    if not statuses or unfinished:
        raise ValueError(
            "--status takes finished statuses only ("
            + ", ".join(db_sessions.TERMINAL)
            + f"), not {', '.join(unfinished) or 'nothing'}"
        )
    return statuses


async def prune(
    database: Database,
    older_than: timedelta,
    statuses: tuple[str, ...],
    *,
    batch: int = 100,
    dry_run: bool = False,
    tombstones_kept: timedelta | None = None,
    found: Callable[[db_sessions.Finished], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Delete sessions in `statuses` that finished more than `older_than` ago, with their events;
    with `dry_run`, only find them. Returns (sessions, events) removed (or found).

    Each session goes in a transaction of its own (its events in bounded chunks), so appends to
    live sessions never wait behind the whole prune. `found` hears of each session as it is
    reached, `progress` of the totals after each batch. Each deleted session leaves a tombstone
    for the sessions stream, and those older than `tombstones_kept` go.
    """
    cutoff = datetime.now(UTC) - older_than
    sessions = events = 0
    last = None
    while True:
        # The primary's: the candidates are deleted there, and a replica may be behind.
        async with database.read() as conn:
            page = await db_sessions.list_finished_before(
                conn, cutoff, statuses, limit=batch, after=last
            )
        if not page:
            return sessions, events
        for session in page:
            if found:
                found(session)
            if dry_run:
                removed: int | None = session.events
            else:
                async with database.write() as conn:
                    removed = await db_sessions.delete_session(
                        conn, session.id, tombstones_kept=tombstones_kept
                    )
            if removed is not None:
                sessions += 1
                events += removed
        last = page[-1]
        if progress:
            progress(sessions, events)
