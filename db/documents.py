"""The event document the API serves, built from a stored row.

PostgreSQL builds the same document in SQL on the hot read path (db/pages.py); both are checked
against the contract by response validation and compared by the API tests on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def format_timestamp(value: datetime) -> str:
    """2026-01-13T14:30:00.123456Z: UTC with six fractional digits, fit to come back as since."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"


def event_document(event: Mapping[str, Any]) -> dict[str, Any]:
    step_id = event["step_id"]
    return {
        "id": str(event["id"]),
        "session_id": str(event["session_id"]),
        "seq": event["seq"],
        "step_id": None if step_id is None else str(step_id),
        "event_type": event["event_type"],
        "event_data": event["event_data"],
        "message": event["message"],
        "timestamp": format_timestamp(event["timestamp"]),
    }
