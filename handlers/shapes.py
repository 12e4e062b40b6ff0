"""The contract's documents as handlers answer them: JSON responses, pagination, a session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from session_events.db.documents import format_timestamp
from session_events.db.json_codec import dumps


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    return Response(dumps(body), status, headers, media_type="application/json")


def pagination(page: int, per_page: int, total: int | None, has_next: bool | None = None):
    """The pagination object; with total None (not counted) the caller says whether a next page
    holds items."""
    total_pages = None if total is None else -(-total // per_page)
    return {
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_pages": total_pages,
        "has_next": page < total_pages if has_next is None else has_next,
        "has_prev": page > 1 and total != 0,
    }


def session_json(session: Mapping[str, Any]) -> dict[str, Any]:
    last_event_at, completed_at = session["last_event_at"], session["completed_at"]
    return {
        "id": str(session["id"]),
        "session_type": session["session_type"],
        "status": session["status"],
        "project_path": session["project_path"],
        "config": session["config"],
        "created_at": format_timestamp(session["created_at"]),
        "updated_at": format_timestamp(session["updated_at"]),
        "event_count": session["last_seq"],
        "last_event_at": None if last_event_at is None else format_timestamp(last_event_at),
        "completed_at": None if completed_at is None else format_timestamp(completed_at),
        "last_message": session["last_message"],
    }
