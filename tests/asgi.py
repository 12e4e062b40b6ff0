"""Driving the ASGI app directly, lifespan included: for tests that must be the client (leave
mid-request) or must reach into the running app's state (its notifier, its database pool)."""

from __future__ import annotations

import asyncio
import contextlib

from session_events.app_state import STATE_KEY
from support.live_server import READ_KEY


@contextlib.asynccontextmanager
async def running(app):
    """Run the app's lifespan; yield its AppState (database, notifier, ...)."""
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield scope["state"][STATE_KEY]
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def request(
    app,
    state,
    method,
    path,
    query=b"",
    body=b"",
    key=READ_KEY,
    leave_after=None,
    headers=(),
    *,
    body_cut_short=False,
    extensions=None,
):
    """One request (`headers`: more of them, as byte pairs); with `leave_after`, the client
    disconnects that many seconds in. With `body_cut_short`, `body` is sent as the first part
    of a longer one, and the client leaves before the rest. `extensions` are the server's
    (session_events.http_protocol.CLIENT_DONE, say)."""
    sent = []
    first = {"type": "http.request", "body": body, "more_body": body_cut_short}

    async def receive():
        nonlocal first
        if first is not None:
            message, first = first, None
            return message
        if body_cut_short:
            return {"type": "http.disconnect"}
        if leave_after is None:
            await asyncio.Event().wait()  # never leaves
        await asyncio.sleep(leave_after)
        return {"type": "http.disconnect"}

    headers = [
        (b"x-api-key", key.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body) + (100 if body_cut_short else 0)).encode()),
        *headers,
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "extensions": extensions or {},
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {STATE_KEY: state},
    }

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent
