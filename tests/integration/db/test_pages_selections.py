"""The `step_id` and `q` selections on both backends, with the other filters, against an answer
computed in Python from the documents; and the same pages cut from events held in memory."""

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
STEPS = [uuid.UUID(int=1), uuid.UUID(int=2), None]
# Mixed case, LIKE's wildcards as text, a letter beyond A to Z, no message at all.
MESSAGES = ["Compile ERROR in Foo", "100% done_ok", None, "Ärger: error", "a_b"]
LIMIT = 3


@pytest.fixture
async def stored(database):
    """30 events: types a, b, c, a, b, ...; steps 1, 2, none, ...; the MESSAGES in turn."""
    async with database.write() as conn:
        session_id = (await db_sessions.create_session(conn, session_type="build"))["id"]
    batch = [
        {
            "event_type": "abcab"[n % 5],
            "step_id": STEPS[n % 3],
            "message": MESSAGES[n % 5 if n % 2 else (n + 1) % 5],
            "event_data": {"n": n},
        }
        for n in range(30)
    ]
    async with database.write_direct() as runner:
        appended = await db_appends.append_events(
            runner, session_id=session_id, new_events=batch, now=T0 + timedelta(seconds=1)
        )
    return session_id, [loads(document) for document in appended.documents]


def ascii_lower(text: str) -> str:
    return "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in text)


def matches(document, types, step, q, after_seq, until_seq) -> bool:
    message = document["message"]
    return (
        after_seq < document["seq"] <= (until_seq or 30)
        and (not types or document["event_type"] in types)
        and (step is None or document["step_id"] == str(step))
        and (q is None or (message is not None and ascii_lower(q) in ascii_lower(message)))
    )


def expected(documents, types, step, q, after_seq, until_seq, ascending, offset, count_total):
    chosen = [d for d in documents if matches(d, types, step, q, after_seq, until_seq)]
    chosen.sort(key=lambda d: d["seq"], reverse=not ascending)
    items = chosen[offset : offset + LIMIT]
    more = False if count_total else len(chosen) > offset + LIMIT
    return items, (len(chosen) if count_total else None), more


TYPES = [(), ("a", "c")]
STEP_VALUES = [None, STEPS[0]]
QS = [None, "error", "ERROR", "%", "_", "ärger", "Ärger", "zzz"]
AFTER, UNTIL = [0, 7], [None, 20]


def query_of(session_id, types, step, q, after_seq, until_seq, ascending, offset, count_total):
    given = {"event_type": types, "step_id": step and str(step).upper(), "q": q}
    given |= {"after_seq": after_seq, "until_seq": until_seq}
    chosen = db_filters.read(db_filters.requested(given))
    return db_pages.ListingQuery(session_id, chosen, ascending, offset, LIMIT, count_total)


async def test_step_id_and_q_select_the_events_with_every_other_filter(database, stored):
    session_id, documents = stored
    checked = found = 0
    async with database.read_direct() as runner:
        for combination in itertools.product(
            TYPES, STEP_VALUES, QS, AFTER, UNTIL, (True, False), (0, 2), (True, False)
        ):
            query = query_of(session_id, *combination)
            page = await db_pages.read_page(runner, query)
            items, total, more = expected(documents, *combination)
            got = loads(page.items)
            assert (got, page.total, page.more, page.count) == (items, total, more, len(items)), (
                combination
            )
            checked += 1
            found += bool(items)
    assert checked == 2 * 2 * 8 * 2 * 2 * 2 * 2 * 2
    assert found > checked // 4  # the selections are not trivially empty


async def test_q_matches_wildcards_and_case_as_text(database, stored):
    session_id, documents = stored

    async def seqs(q):
        async with database.read_direct() as runner:
            query = query_of(session_id, (), None, q, 0, None, True, 0, True)
            query = db_pages.ListingQuery(session_id, query.filters, True, 0, 100, True)
            return [d["seq"] for d in loads((await db_pages.read_page(runner, query)).items)]

    def having(text):
        return [d["seq"] for d in documents if d["message"] and text in d["message"]]

    assert await seqs("%") == having("%")
    assert await seqs("_") == having("_")  # "100% done_ok" and "a_b", not every message
    assert await seqs("compile error") == having("Compile ERROR")
    assert await seqs("ärger") == []  # Ä is not one of A to Z: not folded
    assert await seqs("Ärger") == having("Ärger")


async def test_a_page_held_in_memory_with_step_id_and_q_is_the_databases(database, stored):
    session_id, documents = stored
    answered = 0
    async with database.read_direct() as runner:
        version = await db_pages.read_version(runner, session_id)
        held = pages_in_memory.Held(version, 0, [(d["seq"], d, dumps_text(d)) for d in documents])
        for combination in itertools.product(
            TYPES, STEP_VALUES, QS, AFTER, UNTIL, (True, False), (0, 2), (True, False)
        ):
            query = query_of(session_id, *combination)
            in_memory = pages_in_memory.page_in_memory(query, held)
            page = await db_pages.read_page(runner, query)
            assert loads(in_memory.items) == loads(page.items), combination
            assert (in_memory.total, in_memory.upto_seq, in_memory.more, in_memory.count) == (
                page.total,
                page.upto_seq,
                page.more,
                page.count,
            ), combination
            answered += 1
    assert answered == 2 * 2 * 8 * 2 * 2 * 2 * 2 * 2
