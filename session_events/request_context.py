"""The outermost middleware: each HTTP request made current for everything inside it, with the
positions its reads must see and its writes answer when the database has replicas."""

from __future__ import annotations

from session_events import app_state
from session_events.db import positions

POSITION_HEADER = b"events-position"


class RequestContext:
    """Sets app_state's current request, so that the fast route, Connexion's stack, the
    error handlers and the operator endpoints all read the app's state the same way."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Created here, so that the shallow copies of the scope made further in share it.
        scope.setdefault("extensions", {})
        token = app_state.enter(scope, receive)
        try:
            if app_state.database().replicas is None:
                await self.app(scope, receive, send)
            else:
                await _with_positions(self.app, scope, receive, send)
        finally:
            app_state.leave(token)


async def _with_positions(app, scope, receive, send) -> None:
    """Reads see the request's Events-Position (a malformed one is the contract's 400, further
    in); a response after a write says where the write left the primary."""
    requested = positions.parse(app_state.request_header(POSITION_HEADER)) or positions.NONE
    written = [positions.NONE]
    tokens = positions.requested.set(requested), positions.written.set(written)

    async def sending(message):
        if message["type"] == "http.response.start" and written[0]:
            header = (POSITION_HEADER, positions.text_of(written[0]).encode())
            message = {**message, "headers": [*message.get("headers", ()), header]}
        await send(message)

    try:
        await app(scope, receive, sending)
    finally:
        positions.requested.reset(tokens[0])
        positions.written.reset(tokens[1])
