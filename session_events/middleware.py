"""ASGI middleware around Connexion: the access log with a request id."""

from __future__ import annotations

import os
import re
import time

import structlog

from session_events.observability import Metrics
from session_events.tokens import looks_like_token

access_log = structlog.get_logger("session_events.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
DEMO_REQUEST_PREFIX = "demo-"
# nginx's status for a request its client abandoned before any answer (the body cut short).
CLIENT_LEFT = 499


class AccessLog:
    """One log line and one metrics observation per request (method, route, status, duration,
    session_id, request_id); an error raised after the answer is logged here and goes no
    further.

    The request id comes from X-Request-ID when it is well-formed, is generated otherwise, is
    bound to every log line of the request and is returned on every response.
    """

    def __init__(self, app, *, routes: dict[str, str], metrics: Metrics):
        self.app = app
        self.routes = routes  # operationId -> route template
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        sent_id = _header(scope, b"x-request-id")
        request_id = sent_id if sent_id and _REQUEST_ID.fullmatch(sent_id) else os.urandom(16).hex()
        status = CLIENT_LEFT  # until a response starts: none will if the client left first
        # Connexion's router fills these two dicts in place; Connexion passes shallow copies of the
        # scope down and Starlette's mounts replace scope["path_params"], so keep the dicts.
        extensions = scope.setdefault("extensions", {})
        path_params = scope.setdefault("path_params", {})

        answered = False

        async def send_with_id(message):
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            elif not message.get("more_body"):
                answered = True
            await send(message)

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not answered:
                status = 500 if status == CLIENT_LEFT else status
                raise
            # Raised once the answer was sent: passed on, uvicorn would close the connection,
            # and with it the pipelined requests behind this one, which may have started.
            access_log.exception("error_after_response")
        finally:
            routing = extensions.get("connexion_routing", {})
            # Routes outside the contract (the viewer's files) name themselves.
            route = extensions.get("route") or self.routes.get(
                routing.get("operation_id"), "unrouted"
            )
            seconds = time.perf_counter() - started
            self.metrics.observe(scope["method"], route.split(" ", 1)[-1], status, seconds)
            # The demo producer's appends (request ids demo-...) would bury everything else.
            log = (
                access_log.debug if request_id.startswith(DEMO_REQUEST_PREFIX) else access_log.info
            )
            log(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
                session_id=_loggable(path_params.get("session_id")),
            )
            structlog.contextvars.reset_contextvars(**bound)


def _loggable(value: str | None) -> str | None:
    """A value fit for the log: not a token a client put where an id goes."""
    return "(a bearer token)" if looks_like_token(value) else value


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
