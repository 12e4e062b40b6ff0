"""ASGI middleware: the app sees a request only once it is whole, spelled one way.

- The body is read here, all of it, before anything inside runs: a request whose client went
  away before its body ended (a reset, a malformed chunk) is never executed. That is the only
  safe reading of ASGI's `http.disconnect` during the body; a producer that retries after such
  a failure must not find the event stored already. One that ends its sending (EOF) before
  its body is whole gets a 400 saying so, since it can still read.
- 413 for a body over the size limit, announced by Content-Length or streamed in chunks; 408 for
  a body that stalls, where no byte arrives for `timeout` seconds (a slow but steady body goes
  on). The connection is closed after either answer, since the rest of the body was not read.
- Field lines a list may be split across (RFC 9110 5.3) are joined into one, as a recipient
  may: If-None-Match sent as two lines is read as one list, as the contract and the app do. A
  field of one value sent on two lines (X-API-Key, Last-Event-ID) is a 400.
- The Content-Type is spelled one way (the media type and parameter names in lower case, no
  whitespace around `;` or `=`, both of which RFC 9110 allows), so that every check of it, in
  the fast route and in Connexion, matches `application/json ;charset=utf-8`.
"""

from __future__ import annotations

import asyncio

from session_events.contract_checks import CUT_SHORT
from session_events.http_protocol import CLIENT_DONE
from session_events.problems import problem_json

TOO_LARGE = "The request body is larger than {limit} bytes; send fewer or smaller events per batch."
STALLED = "No part of the request body arrived for {:g} s; send the whole body it announces."
LIST_FIELDS = (b"if-none-match",)  # the list-valued fields the app reads
# The fields the app reads one value of: sent on two lines, which one was meant is unknown.
SINGLE_FIELDS = {
    b"x-api-key": "X-API-Key",
    b"last-event-id": "Last-Event-ID",
    b"content-type": "Content-Type",
}
SENT_TWICE = "{} is sent on more than one header line; send it once."


class WholeRequest:
    def __init__(self, app, *, max_body_bytes: int, timeout: float):
        self.app = app
        self.limit = max_body_bytes
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length, has_body, respell, lists, singles = None, False, False, 0, []
        for name, value in scope["headers"]:
            if name == b"content-length":
                length, has_body = value, value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
            elif name in LIST_FIELDS:
                lists += 1
            if name in SINGLE_FIELDS:
                if name in singles:
                    return await _refuse(send, 400, SENT_TWICE.format(SINGLE_FIELDS[name]))
                singles.append(name)
                respell = respell or (name == b"content-type" and value != b"application/json")
        if respell or lists > 1:
            scope["headers"] = respelled(scope["headers"])
        if not has_body:
            return await self.app(scope, receive, send)
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _refuse(send, 413, TOO_LARGE.format(limit=self.limit))
        done = scope.get("extensions", {}).get(CLIENT_DONE, {}).get("event")
        parts, size = [], 0
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                return await _refuse(send, 408, STALLED.format(self.timeout))
            if message["type"] == "http.disconnect":
                return  # the body never arrived whole: nothing runs, and no one is left to answer
            part = message.get("body", b"")
            if message.get("more_body", False) and done is not None and done.is_set():
                return await _refuse(send, 400, CUT_SHORT)  # it said it sends no more
            size += len(part)
            if size > self.limit:
                return await _refuse(send, 413, TOO_LARGE.format(limit=self.limit))
            parts.append(part)
            if not message.get("more_body", False):
                break
        whole: dict | None = {"type": "http.request", "body": b"".join(parts), "more_body": False}

        async def receive_whole():
            nonlocal whole
            if whole is None:
                return await receive()  # later receives: the client leaving
            message, whole = whole, None
            return message

        await self.app(scope, receive_whole, send)


def respelled(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The header fields with list fields joined into their first line and the Content-Type
    spelled one way; the other fields as they came, in their order."""
    result: list[tuple[bytes, bytes]] = []
    joined: dict[bytes, int] = {}  # a list field's name -> its place in result
    for name, value in headers:
        if name == b"content-type":
            value = media_type(value)
        elif name in LIST_FIELDS:
            if name in joined:
                place = joined[name]
                result[place] = (name, result[place][1] + b", " + value)
                continue
            joined[name] = len(result)
        result.append((name, value))
    return result


def media_type(value: bytes) -> bytes:
    """`type/subtype; name=value` with the type and parameter names in lower case and no
    whitespace around `;` and `=`; parameter values as sent."""
    kind, *parameters = value.split(b";")
    parts = [kind.strip().lower()]
    for parameter in parameters:
        name, equals, text = parameter.partition(b"=")
        if name.strip():
            parts.append(name.strip().lower() + equals + text.strip())
    return b"; ".join(parts)


async def _refuse(send, status: int, detail: str) -> None:
    """A problem answer that also closes the connection: the rest of the body was not read."""
    body = problem_json(status, detail)
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
