"""What the HTTP edge refuses before a request reaches the app (session_events/http_protocol.py),
and the answer it writes for each: a problem+json naming what is wrong."""

from __future__ import annotations

import functools
import re

from session_events.problems import TITLES, problem_json

MAX_TARGET = 16 * 1024  # the request target (path and query), in bytes
MAX_HEAD = 64 * 1024  # the request line and header fields (or the trailer fields), in bytes
HEAD_TIMEOUT_SECONDS = 10.0  # from the first byte a request's head may be waited for (or from
# the connection's start, or the last answer): a head that trickles in is cut then
# RFC 3986's host (an IP literal, or a name or IPv4 address) and an optional port.
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")

NOT_HTTP = "The request is not valid HTTP/1.1 ({reason}); nothing of it was executed."
HTTP2_PREFACE = "This server speaks HTTP/1.1; send the request without HTTP/2's preface."
VERSION = "This server speaks HTTP/1.1 and 1.0; the request says HTTP/{version}."
TARGET_TOO_LONG = (
    f"The request target is longer than {MAX_TARGET} bytes; send fewer or shorter query parameters."
)
HEAD_TOO_LARGE = f"The request's header fields exceed {MAX_HEAD} bytes; send fewer or shorter ones."
HEAD_TOO_SLOW = (
    f"The request's head did not arrive within {HEAD_TIMEOUT_SECONDS:g} s; send it whole, at once."
)
NO_HOST = "An HTTP/1.1 request needs exactly one Host header field; this one has {count}."
BAD_HOST = "The Host header field must be a host name or address with an optional port."
CODING = (
    "Transfer-Encoding: {coding} is not supported; send the body as it is, with a "
    "Content-Length, or chunked alone."
)
CONNECT = "CONNECT is not supported: this server is not a proxy."
UPGRADE_WITH_BODY = (
    "A request that asks to upgrade the connection cannot carry a body here; send it without "
    "Upgrade (this server speaks HTTP/1.1 only)."
)


class Refused(Exception):
    """A request the edge answers itself with `status`; raised in a parser callback, it stops
    the parsing of the connection."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def head_refusal(
    headers: list[tuple[bytes, bytes]], version: str, method: bytes, upgrade: bool
) -> Refused | None:
    """What RFC 9112 refuses in a parsed head, and what this server does not do: a version
    other than 1.1 or 1.0; Host missing from HTTP/1.1, or repeated, or not a host; a transfer
    coding other than chunked (the only one a server must decode); CONNECT; an upgrade with a
    body (whose bytes the parser would take for the new protocol's, and run as requests)."""
    if version != "1.1" and version != "1.0":
        return Refused(505, VERSION.format(version=version))
    if method == b"CONNECT":
        return Refused(501, CONNECT)
    hosts, host, has_body = 0, None, False
    for name, value in headers:  # one pass: this runs for every request
        if name == b"host":
            hosts += 1
            host = value
        elif name == b"transfer-encoding":
            if value.lower() != b"chunked":
                return Refused(501, CODING.format(coding=value.decode("latin-1")))
            has_body = True
        elif name == b"content-length":
            has_body = has_body or value != b"0"
    if hosts != 1 and (hosts or version == "1.1"):
        return Refused(400, NO_HOST.format(count=hosts))
    if host is not None and not valid_host(host):
        return Refused(400, BAD_HOST)
    if upgrade and has_body:
        return Refused(400, UPGRADE_WITH_BODY)
    return None


@functools.lru_cache(maxsize=256)  # a connection's client sends the same Host every request
def valid_host(value: bytes) -> bool:
    return _HOST.fullmatch(value) is not None


def parser_refusal(error: BaseException | None) -> Refused:
    """The refusal of a request httptools could not parse (`error`, what it raised)."""
    if isinstance(error, Exception) and isinstance(error.__context__, Refused):
        return error.__context__  # raised by one of the protocol's own callbacks
    cause = error.__context__ if error is not None and error.__context__ else error
    reason = str(cause) if cause is not None and str(cause) else type(cause).__name__
    return Refused(400, HTTP2_PREFACE if "PRI" in reason else NOT_HTTP.format(reason=reason))


def refusal_bytes(refusal: Refused, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole answer: status line, the server's default headers (date, server), the problem,
    and the close that follows it."""
    body = problem_json(refusal.status, refusal.detail)
    head = [b"HTTP/1.1 %d %s\r\n" % (refusal.status, TITLES[refusal.status].encode())]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head.append(b"content-type: application/problem+json\r\n")
    head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
    return b"".join(head) + body
