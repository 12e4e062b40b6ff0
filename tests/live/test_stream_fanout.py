"""Many streams on one session through a real server process, on both backends (issue 24): a
thousand opened while a producer appends, each from its own starting point, and streams with
`event_type` filters among unfiltered ones. Every stream must get exactly the events after its
start that it asked for, each once, in seq order, and end after the terminal status.

The streams' starting points and the moments they open are random but seeded, so a failure
can be run again as it was.
"""

from __future__ import annotations

import asyncio
import random
import re

import httpx
import pytest

from tests.live.conftest import no_traceback
from tests.live.fanout import (
    TIMEOUT,
    Producer,
    RawStream,
    all_started,
    check_events,
    comments,
    event_types,
    new_session,
    stream_request,
)

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)

STREAMS = 1000
WAVES = 20  # the streams open in this many waves, appends going on all the while
TYPES = ("a", "b", "c", "d")


@pytest.fixture
async def served(live_server):
    # The default pool (10 connections, 10 s wait): a thousand streams joining share one read
    # per append, and each replays its own backlog.
    server = live_server(EVENTS_STREAM_HEARTBEAT_SECONDS="1")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        yield server, http


def starting_point(rng: random.Random, last_seq: int) -> tuple[int, str, dict[str, str]]:
    """A stream's cursor, and how the request gives it: none, after_seq, Last-Event-ID, or a
    seq beyond the last appended so far."""
    kind = rng.choice(("none", "after_seq", "last_event_id", "beyond"))
    if kind == "none":
        return 0, "", {}
    cursor = last_seq + rng.randint(1, 20) if kind == "beyond" else rng.randint(0, last_seq)
    if kind == "after_seq" or (kind == "beyond" and rng.random() < 0.5):
        return cursor, f"after_seq={cursor}", {}
    return cursor, "", {"Last-Event-ID": str(cursor)}


async def produce_until(producer: Producer, rng: random.Random, opened: asyncio.Event) -> None:
    """Batches of one to five events back to back, until every stream is open."""
    while not opened.is_set():
        await producer.append(*rng.choices(TYPES, k=rng.randint(1, 5)))
        await asyncio.sleep(0.02)


async def test_a_thousand_streams_joining_while_appends_race_each_get_every_seq_once(served):
    server, http = served
    rng = random.Random(24)
    session_id = await new_session(http)
    producer = Producer(http, session_id)
    await producer.append(*TYPES)
    opened = asyncio.Event()
    producing = asyncio.create_task(produce_until(producer, random.Random(42), opened))
    streams: list[tuple[int, RawStream]] = []
    reading: list[asyncio.Task] = []
    for _ in range(WAVES):
        starts = [starting_point(rng, producer.last_seq) for _ in range(STREAMS // WAVES)]
        requests = [stream_request(session_id, query, **headers) for _, query, headers in starts]
        opening = await asyncio.gather(*(RawStream.open(server.port, r) for r in requests))
        streams += zip([cursor for cursor, _, _ in starts], opening, strict=True)
        reading += [asyncio.create_task(stream.follow()) for stream in opening]
        await asyncio.sleep(rng.uniform(0, 0.2))
    await all_started([stream for _, stream in streams], reading)
    opened.set()
    await producing
    # Past the furthest starting point, so that every stream has events to receive.
    while producer.last_seq <= max(cursor for cursor, _ in streams) + 5:
        await producer.append(*rng.choices(TYPES, k=5))
    final = await producer.finish()
    bodies = await asyncio.wait_for(asyncio.gather(*reading), TIMEOUT)
    types = await event_types(http, session_id)
    assert max(types) == final
    for (cursor, _), body in zip(streams, bodies, strict=True):
        check_events(body, list(range(cursor + 1, final + 1)), types)
        assert comments(body) <= {"heartbeat"}
    no_traceback(server)
    # What the hub wrote to the streams live was timed from its commit.
    metrics = (await http.get("/metrics")).text
    delivered = re.search(r"^testboost_stream_delivery_seconds_count (\S+)$", metrics, re.M)
    assert float(delivered.group(1)) > 0, metrics


FILTERS = [(), ("a", "c"), ("b",), ("d", "status_changed", "a"), (), ("c",), ()]


async def test_streams_with_event_type_filters_among_unfiltered_get_exactly_what_they_ask(served):
    server, http = served
    rng = random.Random(7)
    session_id = await new_session(http)
    producer = Producer(http, session_id)
    await producer.append(*TYPES)
    streams: list[tuple[int, tuple[str, ...], RawStream]] = []
    following = []
    for _ in range(3):  # each filter opened three times, from different points
        for wanted in FILTERS:
            cursor = rng.choice((0, rng.randint(0, producer.last_seq)))
            query = "&".join([f"after_seq={cursor}"] + [f"event_type={t}" for t in wanted])
            stream = await RawStream.open(server.port, stream_request(session_id, query))
            streams.append((cursor, wanted, stream))
            following.append(asyncio.create_task(stream.follow()))
            await producer.append(*rng.choices(TYPES, k=rng.randint(1, 8)))
    await all_started([stream for _, _, stream in streams], following)
    for _ in range(20):
        await producer.append(*rng.choices(TYPES, k=rng.randint(1, 8)))
    final = await producer.finish()
    bodies = await asyncio.wait_for(asyncio.gather(*following), TIMEOUT)
    types = await event_types(http, session_id)
    assert max(types) == final
    for (cursor, wanted, _), body in zip(streams, bodies, strict=True):
        after = range(cursor + 1, final + 1)
        check_events(body, [seq for seq in after if not wanted or types[seq] in wanted], types)
        assert comments(body) <= {"heartbeat"}
    no_traceback(server)
