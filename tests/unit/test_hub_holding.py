"""What a hub holds of each event for long-polls (session_events/hub.py SessionHub.hold): its
text and only the fields the in-memory filters read, counted against HELD_BYTES."""

from __future__ import annotations

from collections import deque

from session_events.db import filters as db_filters
from session_events.db.json_codec import dumps
from session_events.hub import HELD_BYTES, SessionHub


def holding_hub() -> SessionHub:
    """A hub's holding alone: no database, no task (hold reads and writes nothing else)."""
    hub = object.__new__(SessionHub)
    hub.held, hub.held_after, hub.held_bytes = deque(), 0, 0
    return hub


def event(seq: int, message: str | None, data: dict) -> tuple[dict, str]:
    document = {
        "id": f"00000000-0000-4000-8000-{seq:012d}",
        "session_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "seq": seq,
        "step_id": None,
        "event_type": "tick",
        "event_data": data,
        "message": message,
        "timestamp": "2026-01-13T14:30:00.123456Z",
    }
    return document, dumps(document).decode()


def test_only_the_fields_the_filters_read_are_held_beside_the_text():
    hub = holding_hub()
    document, text = event(1, "hello", {"big": list(range(1000))})
    hub.hold(1, document, text)

    ((seq, fields, held_text),) = hub.held
    assert (seq, held_text) == (1, text)
    assert set(fields) == set(db_filters.IN_MEMORY_FIELDS)  # no event_data parsed and kept
    assert hub.held_bytes == len(text) + len("hello")


def test_the_oldest_go_once_text_and_messages_pass_the_bound():
    hub = holding_hub()
    message = "m" * (HELD_BYTES // 8)  # each event costs a quarter of the bound, and a bit
    for seq in range(1, 6):
        document, text = event(seq, message, {})
        hub.hold(seq, document, text)

    assert hub.held_bytes <= HELD_BYTES
    assert [seq for seq, _, _ in hub.held] == [3, 4, 5]  # the text alone would keep all five
    assert hub.held_after == 2
    assert hub.held_bytes == sum(len(text) + len(message) for _, _, text in hub.held)
