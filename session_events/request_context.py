"""The outermost middleware: each HTTP request made current for everything inside it."""

from __future__ import annotations

import structlog

from session_events.handlers import state

log = structlog.get_logger("session_events")


class RequestContext:
    """Sets handlers.state's current request, so that the fast route, Connexion's stack, the
    error handlers and the operator endpoints all read the app's state the same way.

    An error raised once the response is complete is logged here and goes no further: uvicorn
    would close the connection for it, and with it the pipelined requests behind this one,
    which by then may have started (executed, and never answered).
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Created here, so that the shallow copies of the scope made further in share it.
        scope.setdefault("extensions", {})
        token = state.enter(scope, receive)
        answered = False

        async def tracked_send(message):
            nonlocal answered
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            if not answered:
                raise
            log.exception("error_after_response", path=scope["path"])
        finally:
            state.leave(token)
