"""The page query on both backends, against a brute-force answer computed in Python from the rows:
every combination of since, event types, after_seq, until_seq, order, offset (deep and past the
end, however large) and count_total."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from session_events.db import appends as db_appends
from session_events.db import filters as db_filters
from session_events.db import pages as db_pages
from session_events.db import pages_in_memory
from session_events.db import sessions as db_sessions
from session_events.db.json_codec import dumps_text, loads

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
TYPES = "abcab" * 6  # 30 events: a and b often, c rarely
LIMIT = 4


@pytest.fixture
async def stored(database):
    """A session of 30 events one second apart, and their documents in seq order."""
    async with database.write() as conn:
        session_id = (await db_sessions.create_session(conn, session_type="build"))["id"]
    documents = []
    for n, event_type in enumerate(TYPES):
        async with database.write_direct() as runner:
            appended = await db_appends.append_events(
                runner,
                session_id=session_id,
                new_events=[{"event_type": event_type, "event_data": {"n": n, "big": 10**30}}],
                now=T0 + timedelta(seconds=n),
            )
        documents += [loads(document) for document in appended.documents]
    return session_id, documents


def expected(documents, since, types, after_seq, until_seq, ascending, offset, count_total):
    at_since = 0
    if since is not None:
        at_since = max(
            (d["seq"] for d in documents if datetime.fromisoformat(d["timestamp"]) <= since),
            default=0,
        )
    lower = max(after_seq, at_since)
    upper = min(until_seq if until_seq is not None else len(documents), len(documents))
    chosen = [
        d
        for d in documents
        if lower < d["seq"] <= upper and (not types or d["event_type"] in types)
    ]
    chosen.sort(key=lambda d: d["seq"], reverse=not ascending)
    items = chosen[offset : offset + LIMIT]
    more = False if count_total else len(chosen) > offset + LIMIT
    return items, (len(chosen) if count_total else None), upper, more


def chosen(given: dict) -> db_filters.Chosen:
    """The filters given as a query takes them (since already read as an instant)."""
    requested = db_filters.requested(given)
    return tuple(
        (f, requested[f.parameter]) for f in db_filters.FILTERS if f.parameter in requested
    )


SINCES = [
    None,
    T0 - timedelta(days=1),
    T0 + timedelta(seconds=12, microseconds=5),
    T0 + 10**6 * timedelta(seconds=1),
]
EVENT_TYPES = [(), ("c",), ("a", "c"), ("b", "a", "c"), ("never",)]
AFTER = [0, 7]
UNTIL = [None, 20, 3]
OFFSETS = [0, 3, 8, 29, 10**40]


async def test_every_combination_of_filters_matches_the_rows(database, stored):
    session_id, documents = stored
    checked = 0
    async with database.read_direct() as runner:
        for since, types, after_seq, until_seq, ascending, offset, count_total in itertools.product(
            SINCES, EVENT_TYPES, AFTER, UNTIL, (True, False), OFFSETS, (True, False)
        ):
            given = {
                "since": since,
                "event_type": types,
                "after_seq": after_seq,
                "until_seq": until_seq,
            }
            query = db_pages.ListingQuery(
                session_id, chosen(given), ascending, offset, LIMIT, count_total
            )
            page = await db_pages.read_page(runner, query)
            items, total, upper, more = expected(
                documents, since, types, after_seq, until_seq, ascending, offset, count_total
            )
            got = loads(page.items)
            assert (got, page.total, page.upto_seq, page.more, page.count) == (
                items,
                total,
                upper,
                more,
                len(items),
            ), query
            assert page.version.latest_seq == len(documents)
            checked += 1
    assert checked == 4 * 5 * 2 * 3 * 2 * 5 * 2


async def test_a_page_of_no_session_is_none(database):
    async with database.read_direct() as runner:
        query = db_pages.ListingQuery(uuid.uuid4(), (), False, 0, LIMIT, True)
        assert await db_pages.read_page(runner, query) is None
        assert await db_pages.read_version(runner, query.session_id) is None


async def test_the_version_is_the_pages(database, stored):
    session_id, documents = stored
    async with database.read_direct() as runner:
        version = await db_pages.read_version(runner, session_id)
        query = db_pages.ListingQuery(session_id, (), False, 0, LIMIT, True)
        page = await db_pages.read_page(runner, query)
    assert version == page.version
    assert version.latest_seq == len(documents)


async def test_a_page_from_events_held_in_memory_is_the_databases(database, stored):
    """What a hub answers a long-poll from (db_pages.page_in_memory) is what read_page reads,
    for every combination it can answer; it declines `since` and a range that begins before
    the events it holds."""
    session_id, documents = stored
    answered = declined = 0
    async with database.read_direct() as runner:
        version = await db_pages.read_version(runner, session_id)
        for held_after, types, after_seq, until_seq, ascending, offset, count_total, since in (
            itertools.product(
                (0, 7, 12), EVENT_TYPES, AFTER, UNTIL, (True, False), OFFSETS, (True, False),
                SINCES[:2],
            )
        ):  # fmt: skip
            held = pages_in_memory.Held(
                version,
                held_after,
                [(d["seq"], d, dumps_text(d)) for d in documents[held_after:]],
            )
            given = {"since": since, "event_type": types, "after_seq": after_seq}
            given["until_seq"] = until_seq
            query = db_pages.ListingQuery(
                session_id, chosen(given), ascending, offset, LIMIT, count_total
            )
            in_memory = pages_in_memory.page_in_memory(query, held)
            upper = len(documents) if until_seq is None else until_seq
            if since is not None or (after_seq < held_after and after_seq < upper):
                assert in_memory is None, query
                declined += 1
                continue
            page = await db_pages.read_page(runner, query)
            assert loads(in_memory.items) == loads(page.items), query
            assert in_memory.version == page.version
            assert (in_memory.total, in_memory.upto_seq, in_memory.more, in_memory.count) == (
                page.total,
                page.upto_seq,
                page.more,
                page.count,
            ), query
            answered += 1
    assert answered and declined
