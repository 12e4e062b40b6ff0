"""Server-Sent Events: one event document as its bytes, and the response that writes a stream."""

from __future__ import annotations

from session_events.db.json_codec import dumps
from session_events.handlers.chunked_body import ChunkedBody


def sse_line(document: bytes) -> bytes:
    """A document's JSON as the one line a data field holds."""
    # U+2028/U+2029 escaped too, for clients that split lines the way JavaScript and Python's
    # splitlines do (they only occur inside JSON strings).
    return document.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


def sse_data(body: object) -> bytes:
    """A document as the one line of JSON a data field holds."""
    return sse_line(dumps(body))


def sse_event(body: dict, document: bytes | None = None) -> bytes:
    """One event document as an SSE event (`document`: the body as JSON, if made already)."""
    line = sse_data(body) if document is None else sse_line(document)
    return sse_message(body["event_type"], body["seq"], line)


def sse_message(event: str, id: int, data: bytes) -> bytes:
    """An SSE message of an `event`, its `id` and its data (sse_data's line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (id, event.encode(), data)


def sse_comment(text: str) -> bytes:
    return b": %s\n\n" % text.encode()


def auth_expired(detail: str) -> bytes:
    """The last message of a stream whose token expired or was revoked: a 401 Problem, with no
    id, so a client resuming with a new token resumes from the last event it had."""
    problem = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}
    return b"event: auth_expired\ndata: %s\n\n" % sse_data(problem)


class EventStream(ChunkedBody):
    """A text/event-stream written from an async iterator of SSE bytes; the iterator watches
    for its client leaving itself (handlers/waiting.py). A failure ends the stream properly: its
    client resumes with Last-Event-ID."""

    media_type = "text/event-stream"
    failure_log = "stream_failed"
