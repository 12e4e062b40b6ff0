"""The outermost middleware: each HTTP request made current for everything inside it."""

from __future__ import annotations

from session_events import app_state


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
            await self.app(scope, receive, send)
        finally:
            app_state.leave(token)
