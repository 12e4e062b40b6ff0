"""Read your writes across a server's read replicas: the `Events-Position` a client keeps.

A server that reads from replicas answers every write with the primary's WAL position (`X/Y`, two
hexadecimal numbers); a read that sends the highest one back is served by a replica that has
replayed that far, or by the primary. One `Position` belongs to one client, which notes every
response in it and asks it for the header of every request (client.py), so no operation has to.
"""

from __future__ import annotations

import re
import threading

import httpx

HEADER = "Events-Position"
READS = frozenset({"GET"})  # the contract's reads, each of which takes the header
FORM = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


class Position:
    """The highest position any response to this client answered; thread-safe, as a Client's
    producer appends from its own thread while the caller reads."""

    def __init__(self) -> None:
        self.value: int | None = None  # X * 2**32 + Y: positions compare as numbers, not text
        self.lock = threading.Lock()

    def noted(self, response: httpx.Response) -> httpx.Response:
        """`response`, its position kept if higher than any before; a header that is not a
        position is ignored, as it says nothing of where the server stood."""
        given = [parsed(text) for text in response.headers.get_list(HEADER)]
        found = [value for value in given if value is not None]
        if found:
            with self.lock:  # writes run at once may be answered out of order: keep the max
                self.value = max(found) if self.value is None else max(self.value, *found)
        return response

    def headers(self, method: str) -> dict[str, str]:
        """The header a request of `method` carries: the position, on a read once a write
        answered one; nothing otherwise."""
        current = self.text
        return {HEADER: current} if current is not None and method.upper() in READS else {}

    @property
    def text(self) -> str | None:
        """The position as PostgreSQL writes it (`16/B374D848`), or None before any."""
        value = self.value
        return None if value is None else f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def parsed(text: str) -> int | None:
    """`X/Y` as X * 2**32 + Y; None for anything else."""
    matched = FORM.fullmatch(text.strip())
    if matched is None:
        return None
    return int(matched[1], 16) << 32 | int(matched[2], 16)
