"""Timestamps as the API writes them; the event document itself is built by the database
(db/dialects.py `event_document`), where it is read."""

from __future__ import annotations

from datetime import UTC, datetime


def format_timestamp(value: datetime) -> str:
    """2026-01-13T14:30:00.123456Z: UTC with six fractional digits, fit to come back as since."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"
