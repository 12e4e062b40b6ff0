"""Server-Sent Events: one event document as its bytes, and the response that writes a stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import structlog
from starlette.responses import Response

from session_events.db.json_codec import dumps

log = structlog.get_logger("session_events")


def sse_data(body: object) -> bytes:
    """A document as the one line of JSON a data field holds."""
    # U+2028/U+2029 escaped too, for clients that split lines the way JavaScript and Python's
    # splitlines do (they only occur inside JSON strings).
    return dumps(body).replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


def sse_event(body: dict) -> bytes:
    """One event document as an SSE event."""
    return sse_message(body["event_type"], body["seq"], sse_data(body))


def sse_message(event: str, id: int, data: bytes) -> bytes:
    """An SSE message of an `event`, its `id` and its data (sse_data's line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (id, event.encode(), data)


def sse_comment(text: str) -> bytes:
    return b": %s\n\n" % text.encode()


class EventStream(Response):
    """A text/event-stream written from an async iterator of SSE bytes.

    Unlike Starlette's StreamingResponse (on an ASGI 2.3 server such as uvicorn), it never
    cancels its iterator when the client leaves: the iterator watches for that itself
    (handlers/waiting.py) and ends between two reads, never inside one (a cancelled read leaves
    SQLAlchemy's aiosqlite connection closing in a task nobody awaits). An error the iterator
    raises once the stream has started is logged and ends the stream properly, since no
    problem answer can follow a started one.
    """

    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncGenerator[bytes, None], headers: dict[str, str]):
        self.chunks = chunks
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if scope["method"] == "HEAD":  # the head alone: the stream is never started
            await self.chunks.aclose()
            return await send({"type": "http.response.body", "body": b"", "more_body": False})
        try:
            async for chunk in self.chunks:
                try:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except OSError:  # what an ASGI 2.4 server raises when the client has left
                    return
        except Exception:
            log.exception("stream_failed", path=scope["path"])
        finally:
            await self.chunks.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
