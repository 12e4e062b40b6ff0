"""ASGI middleware around Connexion: the access log with a request id, and the body's limits."""

from __future__ import annotations

import asyncio
import os
import re
import time

import orjson
import structlog
from connexion.exceptions import ProblemException

from session_events.observability import Metrics

access_log = structlog.get_logger("session_events.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
DEMO_REQUEST_PREFIX = "demo-"
TOO_LARGE = "The request body is larger than {limit} bytes; send fewer or smaller events per batch."
STALLED = "No part of the request body arrived for {:g} s; send the whole body it announces."


class AccessLog:
    """One log line and one metrics observation per request (method, route, status, duration,
    session_id, request_id).

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
        status = 500
        # Connexion's router fills these two dicts in place; Connexion passes shallow copies of the
        # scope down and Starlette's mounts replace scope["path_params"], so keep the dicts.
        extensions = scope.setdefault("extensions", {})
        path_params = scope.setdefault("path_params", {})

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
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
                session_id=path_params.get("session_id"),
            )
            structlog.contextvars.reset_contextvars(**bound)


class BodyGuard:
    """The request body's limits: 413 for a body over the size limit, whether announced by
    Content-Length or streamed in chunks; 408 for a body that stalls, where no byte arrives
    for `timeout` seconds (a slow but steady body goes on). The connection is closed after
    either answer, since the rest of the body was never read.

    Requests without a body pass untouched, and once the body is complete later receives (a
    long-poll listening for the client to leave) are not timed.
    """

    def __init__(self, app, *, max_body_bytes: int, timeout: float):
        self.app = app
        self.limit = max_body_bytes
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = _header(scope, b"content-length")
        if length and length.isdigit() and int(length) > self.limit:
            return await _problem(
                send, 413, "Payload Too Large", TOO_LARGE.format(limit=self.limit)
            )
        if not (length and length != "0") and _header(scope, b"transfer-encoding") is None:
            return await self.app(scope, receive, send)
        received = 0
        complete = cut = False

        async def guarded_receive():
            nonlocal received, complete, cut
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                cut = True
                # Raised inside Connexion's validation, which turns it into the problem response.
                raise ProblemException(
                    status=408, title="Request Timeout", detail=STALLED.format(self.timeout)
                ) from None
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if received > self.limit:
                cut = True
                raise ProblemException(
                    status=413, title="Payload Too Large", detail=TOO_LARGE.format(limit=self.limit)
                )
            return message

        async def closing_send(message):
            if cut and message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, guarded_receive, closing_send)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _problem(send, status: int, title: str, detail: str) -> None:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
