"""Positions in the primary's write-ahead log: what a read must see, and where a write left it.

A position is PostgreSQL's LSN as a number (its text `X/Y` is X * 2**32 + Y, both hexadecimal).
A write answers where the primary stood once it committed; a read that names a position is
served only by a replica that has replayed that far (db/replicas.py), or by the primary.

The current request's two positions live in context variables, set by the HTTP layer
(session_events/request_context.py), so that every read and write of a request honours them
without each handler passing them on: `requested`, the position its reads must see (its
`Events-Position` header), and `written`, where its writes left the primary.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

NONE = 0  # any replica close enough may answer
PRIMARY = 1 << 64  # beyond any position: only the primary answers

_TEXT = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")

requested: ContextVar[int] = ContextVar("events_position_requested", default=NONE)
written: ContextVar[list[int] | None] = ContextVar("events_position_written", default=None)


def parse(text: str | None) -> int | None:
    """The position `X/Y` names; None if it names none."""
    match = _TEXT.match(text or "")
    if match is None:
        return None
    return (int(match[1], 16) << 32) + int(match[2], 16)


def text_of(position: int) -> str:
    """PostgreSQL's spelling of a position (`16/B374D848`)."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def note_written(position: int) -> None:
    """A write of the current request committed with the primary at `position`."""
    holder = written.get()
    if holder is not None and position > holder[0]:
        holder[0] = position
