"""GET and POST /sessions/{session_id}/events."""

from __future__ import annotations

import uuid

from db import events as db_events
from db import sessions as db_sessions
from db.errors import SessionNotFound
from handlers.common import database, event_json, json_response, pagination, parse_timestamp


async def list_events(session_id, since=None, event_type=None, page=1, per_page=20):
    session_id = uuid.UUID(session_id)
    async with database().read() as conn:
        session = await db_sessions.read_session(conn, session_id)
        if session is None:
            raise SessionNotFound(session_id)
        after_seq = 0
        if since is not None:
            after_seq = await db_events.read_seq_at(
                conn, session_id=session_id, timestamp=parse_timestamp(since)
            )
        seq_range = db_events.SeqRange(session_id, after_seq, session["last_seq"], event_type)
        total = await db_events.count_events(conn, seq_range)
        rows = await db_events.list_events(
            conn, seq_range, limit=per_page, offset=(page - 1) * per_page
        )
    return json_response(
        {
            "items": [event_json(row) for row in rows],
            "pagination": pagination(page, per_page, total),
        }
    )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


async def append_events(session_id, body):
    new_events = [
        {
            **event,
            "id": _uuid_or_none(event.get("id")),
            "step_id": _uuid_or_none(event.get("step_id")),
        }
        for event in body["events"]
    ]
    async with database().write() as conn:
        stored = await db_events.append_events(
            conn, session_id=uuid.UUID(session_id), new_events=new_events
        )
    return json_response({"items": [event_json(event) for event in stored]}, 201)
