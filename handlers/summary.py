"""GET /sessions/{session_id}/summary: where a session stands, in one read."""

from __future__ import annotations

import uuid

import orjson
from starlette.responses import Response

from session_events.app_state import database, request_header
from session_events.db import lagging
from session_events.db import sessions as db_sessions
from session_events.db import summary as db_summary
from session_events.db.documents import format_timestamp
from session_events.db.errors import SessionNotFound
from session_events.handlers.listing import etag, etag_matches
from session_events.handlers.shapes import json_response, session_json


async def get_summary(session_id):
    session_id = uuid.UUID(session_id)
    answer = await lagging.found(database(), lambda after: _summary(session_id, after))
    if answer is None:
        raise SessionNotFound(session_id)
    return answer


async def _summary(session_id: uuid.UUID, after: int):
    """The summary's response (or 304) as the database read at `after` has it; None if the
    session is not there."""
    read = await database().reading(lambda conn: _summary_read(conn, session_id), after)
    if read is None or isinstance(read, Response):
        return read
    body, headers = read
    return json_response(body, headers=headers)  # written once the connection is let go


async def _summary_read(conn, session_id: uuid.UUID):
    """The summary's body and headers as `conn` reads them (a 304 if the client has them)."""
    session = await db_sessions.read_session(conn, session_id)
    if session is None:
        return None
    document = session_json(session)
    # The session row says all the body depends on (events are only ever appended to it).
    headers = {"ETag": etag("summary", document), "Cache-Control": "no-cache"}
    if etag_matches(request_header(b"if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    last_seq = session["last_seq"]
    event_types = await db_summary.count_by_type(conn, session_id)
    activity = await db_summary.read_activity(conn, session_id, last_seq)
    steps, steps_total = await db_summary.read_steps(conn, session_id, last_seq)
    types = [event_type for event_type, _ in event_types]
    first_error = await db_summary.read_first_error(conn, session_id, last_seq, types)
    body = {
        "session": document,
        "event_types": [{"event_type": t, "events": n} for t, n in event_types],
        "activity": {
            "start": None if activity.start is None else format_timestamp(activity.start),
            "bucket_seconds": activity.bucket_seconds,
            "counts": activity.counts,
        },
        "steps": [_step_json(step) for step in steps],
        "steps_total": steps_total,
        "first_error": None if first_error is None else orjson.Fragment(first_error),
    }
    return body, headers


def _step_json(step: db_summary.Step) -> dict:
    return {
        "step_id": str(step.step_id),
        "name": step.name,
        "status": step.status,
        "events": step.events,
        "first_seq": step.first_seq,
        "last_seq": step.last_seq,
        "started_at": format_timestamp(step.started_at),
        "ended_at": format_timestamp(step.ended_at),
    }
