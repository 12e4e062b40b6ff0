"""perf/fanout_load.py's SseIds: a streamed response's `id:` lines, however its bytes are split."""

from __future__ import annotations

import random

from perf.fanout_load import SseIds
from session_events.handlers.sse import sse_comment, sse_event

HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def event(seq: int) -> bytes:
    return sse_event({"seq": seq, "event_type": "step_status_changed", "event_data": {"n": seq}})


def chunked(*payloads: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in payloads)


def feed_split(wire: bytes, cuts: list[int]) -> tuple[SseIds, list[int]]:
    parser, ids, start = SseIds(), [], 0
    for cut in [*sorted(cuts), len(wire)]:
        ids += parser.feed(wire[start:cut])
        start = cut
    return parser, ids


def test_every_id_once_in_order_whatever_the_reads_split():
    body = [b"retry: 3000\n\n", sse_comment("keep-alive"), *(event(n) for n in range(1, 41))]
    wire = HEAD + chunked(*body) + b"0\r\n\r\n"
    shuffle = random.Random(7)
    splits = [shuffle.sample(range(len(wire)), 30) for _ in range(200)]
    for cuts in [[], list(range(1, len(wire))), *splits]:
        parser, ids = feed_split(wire, cuts)
        assert ids == list(range(1, 41))
        assert (parser.status, parser.retry, parser.ended) == (200, True, True)


def test_chunks_that_cut_across_sse_lines_yield_no_false_ids():
    # Chunk boundaries inside "id: 12": a parser reading lines of the raw bytes would see the
    # chunk-size lines between them, and "id: 1" alone.
    stream = b"retry: 3000\n\n" + event(12) + event(13)
    at = stream.index(b"id: 12") + 5
    wire = HEAD + chunked(stream[:at], stream[at : at + 1], stream[at + 1 :])
    for step in (1, 3, len(wire)):
        parser = SseIds()
        ids = []
        for start in range(0, len(wire), step):
            ids += parser.feed(wire[start : start + step])
        assert ids == [12, 13]


def test_a_response_without_chunked_coding_is_read_as_it_comes():
    wire = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nretry: 3000\n\n" + event(5)
    parser, ids = feed_split(wire, [len(wire) - 3])
    assert ids == [5]
    assert parser.retry


def test_a_refusal_is_seen_by_its_status_and_has_no_ids():
    wire = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}"
    parser, ids = feed_split(wire, [10])
    assert (parser.status, parser.retry, ids) == (404, False, [])
