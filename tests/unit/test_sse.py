"""handlers/sse.py's EventStream: how a stream ends when its source fails or its client is gone."""

from __future__ import annotations

from session_events.handlers.sse import EventStream

SCOPE = {"type": "http", "method": "GET", "path": "/api/v2/sessions/x/events/stream"}


async def no_message():
    raise AssertionError("an EventStream never reads from its client")


async def test_a_source_that_fails_once_started_is_logged_and_the_stream_ends_properly(
    service_logs,
):
    async def source():
        yield b": first\n\n"
        raise RuntimeError("a bug")

    sent = []

    async def send(message):
        sent.append(message)

    await EventStream(source(), headers={})(SCOPE, no_message, send)
    assert [m.get("body") for m in sent] == [None, b": first\n\n", b""]
    assert sent[-1]["more_body"] is False
    [failure] = [line for line in service_logs if line["event"] == "stream_failed"]
    assert failure["path"] == SCOPE["path"]


async def test_a_client_gone_at_a_write_closes_the_source_without_a_last_chunk():
    closed = []

    async def source():
        try:
            yield b": first\n\n"
            yield b": never sent\n\n"
        finally:
            closed.append(True)

    sent = []

    async def send(message):
        if message["type"] == "http.response.body":
            raise OSError("the client has gone")  # what an ASGI 2.4 server raises
        sent.append(message)

    await EventStream(source(), headers={"Cache-Control": "no-cache"})(SCOPE, no_message, send)
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    assert closed == [True]


async def test_a_head_request_gets_the_head_alone_and_never_starts_the_source():
    started = []

    async def source():
        started.append(True)
        yield b": first\n\n"

    sent = []

    async def send(message):
        sent.append(message)

    chunks = source()
    await EventStream(chunks, headers={})({**SCOPE, "method": "HEAD"}, no_message, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert started == []
