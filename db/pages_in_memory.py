"""A page of events cut from those a hub holds in memory (session_events/hub.py): what
read_page (db/pages.py) would read, where the held events can answer it, so that a woken
long-poll needs no read of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from session_events.db.pages import ListingQuery, Page, Version


@dataclass(frozen=True)
class Held:
    """The newest events of a session as a hub holds them in memory: every one after
    `after` up to the version's counter, in seq order, as (seq, the document's fields the
    in-memory filters read (filters.IN_MEMORY_FIELDS), its JSON text)."""

    version: Version
    after: int
    events: Sequence[tuple[int, dict, str]]


def page_in_memory(query: ListingQuery, held: Held) -> Page | None:
    """The page read_page would read, from events held in memory; None if they cannot answer
    it: a filter only the database applies (`since`), or a range that begins before them."""
    lo, hi, tests = 0, held.version.latest_seq, []
    for declared, value in query.filters:
        if declared.in_memory is None:
            return None
        if declared.bound == "lower":
            lo = max(lo, declared.in_memory(value))
        elif declared.bound == "upper":
            hi = min(hi, declared.in_memory(value))
        else:
            tests.append(declared.in_memory(value))
    if lo < held.after and lo < hi:
        return None
    kept = [
        event
        for event in held.events
        if lo < event[0] <= hi and all(test(event[1]) for test in tests)
    ]
    if not query.ascending:
        kept.reverse()
    page = kept[min(query.offset, len(kept)) :][: query.limit]
    items = "[" + ",".join(text for _, _, text in page) + "]"
    total = len(kept) if query.count_total else None
    more = not query.count_total and len(kept) > query.offset + query.limit
    return Page(held.version, hi, total, items, len(page), more)
