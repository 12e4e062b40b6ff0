"""POST and GET /sessions, GET /sessions/{session_id}."""

from __future__ import annotations

import uuid
from datetime import timedelta

from starlette.responses import Response

from session_events.app_state import base_path, database, notifier, state
from session_events.db import sessions as db_sessions
from session_events.db.errors import SessionNotFound
from session_events.handlers.shapes import json_response, pagination, session_json


async def create_session(body):
    session_id = body.get("id")
    async with database().write() as conn:
        session = await db_sessions.create_session(
            conn,
            session_type=body["session_type"],
            session_id=None if session_id is None else uuid.UUID(session_id),
            project_path=body.get("project_path"),
            config=body.get("config"),
        )
    notifier().committed(session["id"])  # the sessions streams learn of it
    location = f"{base_path()}/sessions/{session['id']}"
    return json_response(session_json(session), 201, {"Location": location})


async def get_session(session_id):
    session_id = uuid.UUID(session_id)
    async with database().read() as conn:
        session = await db_sessions.read_session(conn, session_id)
    if session is None:
        raise SessionNotFound(session_id)
    return json_response(session_json(session))


async def list_sessions(status=None, page=1, per_page=20):
    async with database().read() as conn:
        total = await db_sessions.count_sessions(conn, status=status)
        offset = (page - 1) * per_page
        rows = []  # a page past the end: nothing to read, and an offset beyond bigint never sent
        if offset < total:
            rows = await db_sessions.list_sessions(
                conn, status=status, limit=per_page, offset=offset
            )
    return json_response(
        {
            "items": [session_json(row) for row in rows],
            "pagination": pagination(page, per_page, total),
        }
    )


async def update_session(session_id, body):
    session_id = uuid.UUID(session_id)
    async with database().write() as conn:
        session = await db_sessions.update_session_status(conn, session_id, body["status"])
    notifier().committed(session_id)
    return json_response(session_json(session))


async def delete_session(session_id):
    session_id = uuid.UUID(session_id)
    async with database().write() as conn:
        kept = timedelta(seconds=state().session_tombstone_seconds)
        removed = await db_sessions.delete_session(conn, session_id, tombstones_kept=kept)
    if removed is None:
        raise SessionNotFound(session_id)
    notifier().committed(session_id)  # its streams end
    return Response(status_code=204)
