"""NDJSON response bodies checked line by line as they stream (session_events/line_checks.py),
both ways a response is checked: Connexion's validator map and the fast route's checks."""

from __future__ import annotations

import asyncio

import pytest
from connexion.exceptions import NonConformingResponseBody

from session_events.line_checks import LineChecks
from session_events.response_checks import ResponseChecks
from session_events.validators import VALIDATOR_MAP, ContractLinesValidator

SCHEMA = {"type": "object", "required": ["seq"], "properties": {"seq": {"type": "integer"}}}


def test_lines_cut_between_chunks_are_checked_whole():
    checks = LineChecks(SCHEMA)
    checks.feed(b'{"seq": 1}\n{"se')
    checks.feed(b'q": 2}\n')
    checks.feed(b'{"seq": 3}')
    checks.end()  # the last line needs no newline


@pytest.mark.parametrize(
    "body", [b'{"seq": 1}\n{"seq": "two"}\n', b'{"seq": 1}\n\n', b"{", b'{"seq": 1}\n{"s']
)
def test_a_line_that_does_not_conform_is_refused(body):
    checks = LineChecks(SCHEMA)
    with pytest.raises(NonConformingResponseBody):
        checks.feed(body)
        checks.end()


def test_ndjson_is_not_read_as_one_json_document():
    assert VALIDATOR_MAP["response"]["application/x-ndjson"] is ContractLinesValidator


def stream(send_wrapper, chunks: list[bytes], start: dict | None = None) -> list[dict]:
    """Send a streamed response through `send_wrapper(send)`; what reached the client, and
    when: each message is recorded with the number of messages sent so far."""
    arrived = []

    async def send(message):
        arrived.append(message)

    async def run():
        checked = send_wrapper(send)
        if start is not None:
            await checked(start)
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            await checked({"type": "http.response.body", "body": chunk, "more_body": not last})
            assert len(arrived) == n + 1 + (start is not None)  # passed on at once, not held

    asyncio.run(run())
    return arrived


def test_connexions_way_streams_each_chunk_on_after_checking_it():
    validator = ContractLinesValidator({}, schema=SCHEMA, encoding="utf-8")
    arrived = stream(validator.wrap_send, [b'{"seq": 1}\n{"seq"', b": 2}\n", b""])
    assert b"".join(m["body"] for m in arrived) == b'{"seq": 1}\n{"seq": 2}\n'
    with pytest.raises(NonConformingResponseBody):
        stream(validator.wrap_send, [b'{"seq": 1}\n', b'{"seq": null}\n'])


def test_the_fast_routes_way_streams_each_chunk_on_after_checking_it():
    responses = {
        "200": {"content": {"application/x-ndjson": {"schema": SCHEMA}}, "description": "x"}
    }
    checks = ResponseChecks(responses, VALIDATOR_MAP["response"])
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/x-ndjson")],
    }
    arrived = stream(checks.checked_send, [b'{"seq": 1}\n{"seq"', b": 2}\n", b""], start)
    assert b"".join(m.get("body", b"") for m in arrived[1:]) == b'{"seq": 1}\n{"seq": 2}\n'
    with pytest.raises(NonConformingResponseBody):
        stream(checks.checked_send, [b'{"seq": 1}\n', b'{"seq": null}\n'], start)
    headers = [(b"content-type", b"application/x-ndjson")]
    checks.check(200, headers, b'{"seq": 1}\n{"seq": 2}\n')  # a body at hand: by lines too
    with pytest.raises(NonConformingResponseBody):
        checks.check(200, headers, b'{"seq": 1}\n{"seq": 2}\n{')
