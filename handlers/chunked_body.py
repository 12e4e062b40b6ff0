"""A response body written from an async iterator of chunks: the event streams (handlers/sse.py)
and the NDJSON export (handlers/export.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import structlog
from starlette.responses import Response

from session_events.http_protocol import CLIENT_DONE

log = structlog.get_logger("session_events")


class CutShort(Exception):
    """The body ends here, short of its end; why has been logged already."""


class ChunkedBody(Response):
    """Unlike Starlette's StreamingResponse (on an ASGI 2.3 server such as uvicorn), it never
    cancels its iterator when the client leaves: it stops between two chunks, never inside a
    read (a cancelled read leaves SQLAlchemy's aiosqlite connection closing in a task nobody
    awaits). A HEAD gets the head alone, the iterator never started.

    An error the iterator raises once the body has started can no longer be a problem answer:
    it is logged, and `complete_on_failure` says what the client sees. A stream ends properly
    (its client resumes by its cursor); a document such as an export is cut short, without the
    body's last message, so that it never looks whole.
    """

    complete_on_failure = True
    failure_log = "body_failed"

    def __init__(self, chunks: AsyncGenerator[bytes, None], headers: dict[str, str]):
        self.chunks = chunks
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        done = scope.get("extensions", {}).get(CLIENT_DONE)
        try:
            if scope["method"] != "HEAD":
                async for chunk in self.chunks:
                    if done is not None and done["event"].is_set():
                        return  # the client has left: nothing more is read for it
                    try:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    except OSError:  # what an ASGI 2.4 server raises when the client has left
                        return
        except CutShort:
            return
        except Exception:
            log.exception(self.failure_log, path=scope["path"])
            if not self.complete_on_failure:
                return
        finally:
            await self.chunks.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
