"""POST and GET /sessions, GET /sessions/{session_id}."""

from __future__ import annotations

import uuid
from datetime import timedelta

from connexion.exceptions import BadRequestProblem
from starlette.responses import Response

from session_events.app_state import base_path, database, notifier, state
from session_events.db import lagging
from session_events.db import sessions as db_sessions
from session_events.db.documents import parse_timestamp
from session_events.db.errors import SessionNotFound
from session_events.db.session_filters import SessionFilters
from session_events.handlers.shapes import json_response, pagination, session_json
from session_events.handlers.tokens import mint
from session_events.tokens import expiry


async def create_session(body):
    session_id = body.get("id")
    scopes = body.get("tokens") or ()
    async with database().write() as conn:
        session = await db_sessions.create_session(
            conn,
            session_type=body["session_type"],
            session_id=None if session_id is None else uuid.UUID(session_id),
            project_path=body.get("project_path"),
            config=body.get("config"),
        )
        created = session_json(session)
        if scopes:  # in the same transaction: a session is never made without its tokens
            expires_at = expiry(state().token_ttl_seconds)
            created["tokens"] = await mint(conn, session["id"], scopes, expires_at)
    notifier().committed(session["id"])  # the sessions streams learn of it
    location = f"{base_path()}/sessions/{session['id']}"
    return json_response(created, 201, {"Location": location})


async def get_session(session_id):
    session_id = uuid.UUID(session_id)

    async def read(after: int):
        return await database().reading(
            lambda conn: db_sessions.read_session(conn, session_id), after
        )

    session = await lagging.found(database(), read)
    if session is None:
        raise SessionNotFound(session_id)
    return json_response(session_json(session))


async def list_sessions(
    status=None,
    session_type=None,
    project_path=None,
    created_after=None,
    created_before=None,
    q=None,
    page=1,
    per_page=20,
):
    after, before = _window(created_after, created_before)
    chosen = SessionFilters(
        status=status,
        session_types=session_type or (),
        project_path=project_path,
        created_after=after,
        created_before=before,
        search=q,
    )
    offset = (page - 1) * per_page

    async def read(conn):
        counts = await db_sessions.count_by_status(conn, chosen)
        total = sum(counts.values()) if status is None else counts[status]
        rows = []  # a page past the end: nothing to read, and an offset beyond bigint never sent
        if offset < total:
            rows = await db_sessions.list_sessions(conn, chosen, limit=per_page, offset=offset)
        return counts, total, rows

    counts, total, rows = await database().reading(read)
    return json_response(
        {
            "items": [session_json(row) for row in rows],
            "pagination": pagination(page, per_page, total),
            "status_counts": counts,
        }
    )


def _window(created_after: str | None, created_before: str | None):
    """The creation window as instants; a 400 when it ends before it starts."""
    after = None if created_after is None else _instant("created_after", created_after)
    before = None if created_before is None else _instant("created_before", created_before)
    if after is not None and before is not None and before < after:
        raise BadRequestProblem(
            detail=f"created_before ({created_before}) is before created_after "
            f"({created_after}), so no session could match: swap them or widen the window."
        )
    return after, before


def _instant(name: str, text: str):
    try:
        return parse_timestamp(text)
    except ValueError as error:
        raise BadRequestProblem(detail=f"{name}: {error}") from None


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
    state().revocations.revoked_session(session_id)  # its tokens went with it
    notifier().committed(session_id)  # its streams end
    return Response(status_code=204)
