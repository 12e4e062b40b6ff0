"""Timestamps as the API writes and reads them; the event document itself is built by the database
(db/query_components.py `event_document`), where it is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def format_timestamp(value: datetime) -> str:
    """2026-01-13T14:30:00.123456Z: UTC with six fractional digits, fit to come back as since."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"


# Year 0 (valid in RFC 3339, not in datetime) is read 400 years later, one Gregorian cycle, and
# moved back; what lands before datetime's range is clamped to it.
_CYCLE = timedelta(days=146_097)


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 date-time (already checked by the contract's format) as an aware UTC datetime.

    datetime.fromisoformat reads it once the RFC's liberties are spelled its way: `t`/`z` in
    either case, a leap second read as the last microsecond of its minute, year 0. Fractions
    beyond microseconds are truncated, which keeps "strictly after" exact for microsecond
    timestamps; instants outside what datetime holds are clamped to its range. ValueError, with a
    sentence, for what still cannot be read.
    """
    spelled = text.upper()
    if spelled[17:19] == "60":  # YYYY-MM-DDTHH:MM:60[.frac]<offset>
        offset_at = next(i for i in range(19, len(spelled)) if spelled[i] in "Z+-")
        spelled = f"{spelled[:17]}59.999999{spelled[offset_at:]}"
    cycle = timedelta(0)
    if spelled.startswith("0000"):
        spelled, cycle = "0400" + spelled[4:], _CYCLE
    try:
        parsed = datetime.fromisoformat(spelled)
    except ValueError:
        raise ValueError(f"{text} is not a date-time this service can read.") from None
    try:
        return parsed.astimezone(UTC) - cycle
    except OverflowError:
        early = bool(cycle) or parsed.utcoffset() > timedelta(0)
        return (datetime.min if early else datetime.max).replace(tzinfo=UTC)
