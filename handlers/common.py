"""What every handler needs: the app's database, JSON responses, and the shapes of the contract."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from connexion import context
from starlette.responses import Response

from db.documents import format_timestamp
from db.engine import Database
from db.notify import Notifier
from session_events.observability import Metrics
from session_events.settings import Settings


def database() -> Database:
    """The database the lifespan opened for this app."""
    return context.scope["state"]["database"]


def notifier() -> Notifier:
    """Wakes the requests waiting on a session (long-polls, streams) when it gets events."""
    return context.scope["state"]["notifier"]


def metrics() -> Metrics:
    return context.scope["state"]["metrics"]


def settings() -> Settings:
    return context.scope["state"]["settings"]


def request_header(name: bytes) -> str | None:
    """A header of the current request (name in lower case)."""
    for key, value in context.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def base_path() -> str:
    """The API's base path as routed (/api/v2), for Location headers and links."""
    return context.scope["extensions"]["connexion_routing"]["api_base_path"]


def dumps(body: Any) -> bytes:
    """Compact JSON on one line (line breaks inside strings are escaped)."""
    try:
        return orjson.dumps(body)
    except TypeError:  # an integer beyond 64 bits in a client's event_data
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    return Response(dumps(body), status, headers, media_type="application/json")


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 date-time (already checked by the contract) as an aware UTC datetime.

    Fractions beyond microseconds are truncated, which keeps "strictly after" exact for
    microsecond timestamps; a leap second reads as the last microsecond of its minute; instants
    outside what datetime holds are clamped to its range.
    """
    match = _RFC3339.fullmatch(text)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if second == 60:
        second, micro = 59, 999_999
    offset = timedelta(0)
    if match.group(9):
        sign = 1 if match.group(9) == "+" else -1
        offset = sign * timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
    # Year 0 (valid in RFC 3339) is read 400 years later, one Gregorian cycle, then moved back.
    cycle = timedelta(days=146_097) if year == 0 else timedelta(0)
    local = datetime(year or 400, month, day, hour, minute, second, micro)
    try:
        return (local - offset - cycle).replace(tzinfo=UTC)
    except OverflowError:
        early = year == 0 or offset > timedelta(0)
        return (datetime.min if early else datetime.max).replace(tzinfo=UTC)


def pagination(page: int, per_page: int, total: int | None, has_next: bool | None = None):
    """The pagination object; with total None (not counted) the caller says whether a next page
    holds items."""
    total_pages = None if total is None else math.ceil(total / per_page)
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
    }
