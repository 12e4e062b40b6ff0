"""GET and POST /sessions/{session_id}/events."""

from __future__ import annotations

import uuid

from connexion.exceptions import BadRequestProblem
from starlette.responses import Response

from db import events as db_events
from db import sessions as db_sessions
from db.errors import SessionNotFound
from handlers.common import (
    base_path,
    database,
    event_json,
    json_response,
    pagination,
    parse_timestamp,
    request_header,
)
from handlers.listing import etag, etag_matches, link_header


def _filters(since, event_types, after_seq, order, per_page, include_total) -> dict:
    """The listing's query as links repeat it (defaults left out)."""
    filters: dict = {"per_page": per_page}
    if since is not None:
        filters["since"] = since
    if event_types:
        filters["event_type"] = list(event_types)
    if after_seq:
        filters["after_seq"] = after_seq
    if order != "desc":
        filters["order"] = order
    if not include_total:
        filters["include_total"] = "false"
    return filters


async def list_events(
    session_id,
    since=None,
    event_type=None,
    after_seq=0,
    until_seq=None,
    order="desc",
    page=1,
    per_page=20,
    include_total=True,
):
    if until_seq is not None and until_seq < after_seq:
        raise BadRequestProblem(
            detail=f"until_seq ({until_seq}) must not be below after_seq ({after_seq})."
        )
    session_id = uuid.UUID(session_id)
    event_types = tuple(dict.fromkeys(event_type or ()))
    filters = _filters(since, event_types, after_seq, order, per_page, include_total)
    async with database().read() as conn:
        session = await db_sessions.read_session(conn, session_id)
        if session is None:
            raise SessionNotFound(session_id)
        latest_seq = session["last_seq"]
        # The body is a function of the session's identity and counter and of the query.
        tag = etag(session_id, session["created_at"], latest_seq, filters, until_seq, page)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        if etag_matches(request_header(b"if-none-match"), tag):
            return Response(status_code=304, headers=headers)

        lower = after_seq
        if since is not None:
            at_since = await db_events.read_seq_at(
                conn, session_id=session_id, timestamp=parse_timestamp(since)
            )
            lower = max(lower, at_since)
        upper = latest_seq if until_seq is None else min(until_seq, latest_seq)
        seq_range = db_events.SeqRange(session_id, lower, upper, event_types)
        total = await db_events.count_events(conn, seq_range) if include_total else None
        rows = await db_events.list_events(
            conn,
            seq_range,
            limit=per_page if include_total else per_page + 1,  # the extra row tells has_next
            offset=(page - 1) * per_page,
            ascending=order == "asc",
        )
    paging = pagination(page, per_page, total, None if include_total else len(rows) > per_page)
    headers["Link"] = link_header(
        f"{base_path()}/sessions/{session_id}/events",
        {**filters, "until_seq": upper},
        page=page,
        has_next=paging["has_next"],
        last_page=paging["total_pages"],
    )
    body = {
        "items": [event_json(row) for row in rows[:per_page]],
        "pagination": paging,
        "latest_seq": latest_seq,
    }
    return json_response(body, headers=headers)


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
