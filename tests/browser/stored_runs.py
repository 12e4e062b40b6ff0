"""Runs stored straight into a new database before its server starts, with the times a real run
has (created hours ago, events seconds apart): what the screenshots show. Stored as
perf/generate.py stores its data set, counters and per-type counts included."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from perf.generate import Writer, session_row
from perf.workload import SessionPlan
from session_events.db import migrate
from session_events.db.engine import open_database
from session_events.demo import workflow_events
from session_events.settings import Settings

STATUS_CHANGED = "status_changed"


def demo_run(failed: bool) -> list[dict]:
    """The demo's events of a run that completed, or failed after a compile error."""
    for seed in range(1000):
        events = list(workflow_events(random.Random(seed)))
        types = [event["event_type"] for event in events]
        if (types[-1] == "workflow_failed") == failed and "workflow_error" in types:
            return events
    raise AssertionError("no such demo run")


def status_changed(old: str, new: str) -> dict:
    """The event the server appends when a session moves from `old` to `new`."""
    return {
        "event_type": STATUS_CHANGED,
        "event_data": {"old_status": old, "new_status": new},
        "message": f"Session {old} -> {new}",
    }


def rows_of(events: list[dict], started: datetime, seconds_apart: float = 2) -> list[tuple]:
    """(seq, id, step_id, type, data, message, timestamp) rows of `events`, the first at
    `started`, each about `seconds_apart` after the one before."""
    return [
        (
            seq,
            uuid.uuid4(),
            uuid.UUID(event["step_id"]) if event.get("step_id") else None,
            event["event_type"],
            event["event_data"],
            event["message"],
            started + timedelta(seconds=seconds_apart * seq + random.Random(seq).random()),
        )
        for seq, event in enumerate(events, start=1)
    ]


def last_message(rows: list[tuple]) -> str | None:
    """What the server keeps as the session's last_message (status changes aside)."""
    said = [row[5] for row in rows if row[5] is not None and row[3] != STATUS_CHANGED]
    return said[-1] if said else None


async def store(url: str, runs: list[tuple[SessionPlan, list[tuple]]]) -> list[str]:
    """The sessions and their events in a new database at `url`; their ids, in order."""
    database = open_database(Settings(database_url=url))
    writer = Writer(database)
    try:
        await migrate.upgrade(database)
        for plan, rows in runs:
            row = session_row(plan, rows[0][-1], rows[-1][-1], last_message(rows))
            await writer.sessions([row])
            for start in range(0, len(rows), 50_000):
                await writer.events([(plan.id, *row) for row in rows[start : start + 50_000]])
        await writer.finish()
    finally:
        await database.dispose()
    return [str(plan.id) for plan, _ in runs]
