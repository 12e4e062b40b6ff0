"""A stream whose client stops reading, among streams that read, through a real server process
on both backends (issue 24): the others keep getting every event while it is stalled; it is
ended with a comment saying its client reads too slowly (its queue of bytes is bounded by
EVENTS_STREAM_QUEUE_BYTES); and resuming from the last id it got loses and repeats nothing.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.live.conftest import no_traceback
from tests.live.fanout import (
    TIMEOUT,
    Producer,
    RawStream,
    StreamBody,
    all_started,
    check_events,
    event_types,
    new_session,
    read_socket_to_end,
    stream_request,
    until,
)

QUEUE_BYTES = 65536
MESSAGE = "m" * 8192
EVENTS, PER_APPEND = 1200, 4  # about 10 MB: far beyond the stalled socket's buffers and queue
READERS = 3


@pytest.fixture
async def served(live_server):
    server = live_server(
        EVENTS_STREAM_QUEUE_BYTES=str(QUEUE_BYTES), EVENTS_STREAM_HEARTBEAT_SECONDS="1"
    )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        yield server, http


def stalled_stream(port: int, session_id: str) -> tuple[socket.socket, StreamBody]:
    """A stream whose client reads its start, then nothing: a small receive buffer, set
    before connecting so that the window it offers stays small."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    sock.sendall(stream_request(session_id))
    body = StreamBody()
    while not body.messages and (data := sock.recv(1024)):
        body.feed(data)
    assert body.status == 200 and body.messages and "retry" in body.messages[0], body.messages
    return sock, body


async def test_a_stream_whose_client_stops_reading_is_ended_and_resumes_without_loss(served):
    server, http = served
    session_id = await new_session(http)
    producer = Producer(http, session_id)
    readers = [
        await RawStream.open(server.port, stream_request(session_id)) for _ in range(READERS)
    ]
    following = [asyncio.create_task(reader.follow()) for reader in readers]
    await all_started(readers, following)
    sock, slow = await asyncio.to_thread(stalled_stream, server.port, session_id)
    with sock:
        for _ in range(EVENTS // PER_APPEND):
            await producer.append(*["tick"] * PER_APPEND, message=MESSAGE)
        last = producer.last_seq
        # Every event reaches the streams that read while the stalled one still reads nothing.
        await until(lambda: all(reader.body.last_id >= last for reader in readers), following)
        final = await producer.finish()
        types = await event_types(http, session_id)
        for body in await asyncio.wait_for(asyncio.gather(*following), TIMEOUT):
            check_events(body, list(range(1, final + 1)), types)

        # The stalled stream's queue is past its bound: ended (and counted) while it reads
        # nothing; the streams that keep up are not.
        metrics = (await http.get("/metrics")).text
        assert "testboost_streams_ended_slow_total 1.0" in metrics, metrics
        await asyncio.to_thread(read_socket_to_end, sock, slow)  # the client reads again
    got = len(slow.ids)
    check_events(slow, list(range(1, got + 1)), types)  # a whole prefix
    assert "reads too slowly" in slow.messages[-1].get("comment", ""), (
        f"the stalled stream ended without saying its client reads too slowly: it sent "
        f"{got} of the {final} events, and last {slow.messages[-1]}"
    )
    resumed = await RawStream.open(
        server.port, stream_request(session_id, **{"Last-Event-ID": str(got)})
    )
    body = await asyncio.wait_for(resumed.follow(), TIMEOUT)
    check_events(body, list(range(got + 1, final + 1)), types)
    no_traceback(server)
