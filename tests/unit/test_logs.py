"""The log lines' timestamp and request id. The clock is the one stand-in: an instant cannot be had
otherwise."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import structlog

from session_events.logs import _UTCStamp, add_request_id, configure_logging, request_id


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


@pytest.mark.parametrize(
    "instants",
    [
        [1_795_000_000.25, 1_795_000_000.5, 1_795_000_001.000001],  # a new second is formatted
        [1_795_000_000.0, 1_795_003_600.0],  # no fraction still has six digits
        [0.0, 2_000_000_000.123456],
    ],
)
def test_timestamps_are_utc_iso_with_microseconds(monkeypatch, instants):
    stamp = _UTCStamp()
    for instant in instants:
        monkeypatch.setattr(time, "time", lambda instant=instant: instant)
        assert stamp(None, "info", {"event": "x"}) == {"event": "x", "timestamp": iso(instant)}


def test_an_instant_rounding_up_to_the_next_second_is_stamped_in_it(monkeypatch):
    stamp = _UTCStamp()
    for instant in (1_795_000_000.5, 1_795_000_000.9999999):
        monkeypatch.setattr(time, "time", lambda instant=instant: instant)
        stamped = stamp(None, "info", {})["timestamp"]
    assert stamped == iso(1_795_000_001) == "2026-11-18T11:06:41.000000Z"


def test_lines_logged_while_a_request_is_served_carry_its_id_and_others_none():
    bound = request_id.set("abc-123")
    try:
        stamped = add_request_id(None, "info", {"event": "x"})
        assert stamped == {"event": "x", "request_id": "abc-123"}
    finally:
        request_id.reset(bound)
    assert add_request_id(None, "info", {"event": "x"}) == {"event": "x"}


def test_the_configured_chain_adds_the_request_id():
    configure_logging("json", "info")
    assert add_request_id in structlog.get_config()["processors"]
