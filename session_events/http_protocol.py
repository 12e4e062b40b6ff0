"""uvicorn's httptools protocol, held to RFC 9112 where uvicorn is lenient or silent.

uvicorn (0.54) answers a request it cannot parse with a text/plain 400 written at once, even in
the middle of the answer to an earlier pipelined request; it accepts a request without Host or
with two, a target or a header section of any size, a transfer coding it cannot decode; and it
lets asyncio close the connection when the client half-closes, losing the answers still due.
This subclass, passed to uvicorn as its `http` protocol class, is the one seam for all of that:

- A refused request (malformed, no or two Host lines, target over MAX_TARGET bytes, head over
  MAX_HEAD bytes, a transfer coding other than chunked) is answered with a problem+json naming
  what is wrong, after the requests before it on the connection are answered, and the connection
  is then closed: nothing sent after it is executed. A request whose body the error cut is never
  executed (its receive channel says the client is gone).
- A connection closed while the client may still be sending (after a refusal, or a 413 or 408
  whose body was left unread) is closed as RFC 9112 9.6 advises: our side is shut first, what
  still arrives is read and dropped until the client closes or LINGER_SECONDS pass. Closed at
  once, its unread input would make the kernel reset the connection, and the client could lose
  the answer that says what was wrong.
- The client's end of sending (EOF) means "no more requests": what it sent is answered, then the
  connection closes. Requests that wait on the client (long-polls, streams) learn of it through
  the scope extension CLIENT_DONE, an asyncio.Event, and end: a peer that closed its socket is
  seen as gone at once, not at the next write that fails.

The fixes belong in uvicorn; until then this is where they live.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections import deque

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from session_events.problems import TITLES, problem_json

log = structlog.get_logger("session_events.http")

CLIENT_DONE = "session_events.client_done"  # scope["extensions"][CLIENT_DONE]["event"]
MAX_TARGET = 16 * 1024  # the request target (path and query), in bytes
MAX_HEAD = 64 * 1024  # the request line and header fields, in bytes
LINGER_SECONDS = 2.0  # how long input is still read and dropped after our side is shut
# RFC 3986's host (an IP literal, or a name or IPv4 address) and an optional port.
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")

NOT_HTTP = "The request is not valid HTTP/1.1 ({reason}); nothing of it was executed."
HTTP2_PREFACE = "This server speaks HTTP/1.1; send the request without HTTP/2's preface."
TARGET_TOO_LONG = (
    f"The request target is longer than {MAX_TARGET} bytes; send fewer or shorter query parameters."
)
HEAD_TOO_LARGE = f"The request's header fields exceed {MAX_HEAD} bytes; send fewer or shorter ones."
NO_HOST = "An HTTP/1.1 request needs exactly one Host header field; this one has {count}."
BAD_HOST = "The Host header field must be a host name or address with an optional port."
CODING = (
    "Transfer-Encoding: {coding} is not supported; send the body as it is, with a "
    "Content-Length, or chunked alone."
)


class Refused(Exception):
    """Raised in a parser callback to stop parsing: the request is answered with `status`."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


class LingeringClose:
    """The connection's transport, as uvicorn and its request cycles use it, but for `close`:
    when the protocol says input may still be coming, our side is shut (FIN after the answer)
    and the transport closed only once the client closes its side or LINGER_SECONDS pass."""

    def __init__(self, transport: asyncio.Transport, unread_input):
        self.transport = transport
        self.unread_input = unread_input  # () -> whether the client may still be sending
        self.lingering = False

    def __getattr__(self, name):
        return getattr(self.transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self.transport.is_closing()

    def close(self) -> None:
        transport = self.transport
        if self.lingering or transport.is_closing():
            return transport.close()
        if not (self.unread_input() and transport.can_write_eof()):
            return transport.close()
        self.lingering = True
        transport.write_eof()  # after what is buffered: the answer goes out whole
        transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)


class StrictHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client_done = asyncio.Event()  # the client sent EOF: it will send nothing more
        self.refusal: Refused | None = None  # answered once the requests before it are
        self.head_open = False  # between a request's first byte and the end of its header
        self.head_size = 0

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(LingeringClose(transport, self.unread_input))

    def unread_input(self) -> bool:
        """Whether the client may still be sending: a refused request, or a body not read to
        its end (answered before it was, a 413 or 408)."""
        cycle = self.cycle
        return self.refusal is not None or (cycle is not None and cycle.more_body)

    # -- the client's end of sending ------------------------------------------------------

    def eof_received(self) -> bool:
        self.client_done.set()
        if self.transport.lingering:
            return False  # the client has read our answer and closed: close now
        # True keeps the transport open for the answers still due; False closes it now.
        return self.answering()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.answering() or self.transport.is_closing():
            return
        if self.refusal is not None:
            self.write_refusal()
        elif self.client_done.is_set():
            self.transport.close()

    def answering(self) -> bool:
        """Whether a request on this connection is running or waiting its turn."""
        running = self.cycle is not None and not self.cycle.response_complete
        return running or bool(self.pipeline)

    # -- reading requests -----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.refusal is not None or self.transport.lingering:  # read, and dropped
            return
        counting = self.head_open
        super().data_received(data)
        # A head still open after a whole read: count it, so one endless header line is cut
        # too (httptools holds a field until its end before handing it over).
        if counting and self.head_open and self.refusal is None:
            self.head_size += len(data)
            if self.head_size > MAX_HEAD:
                self.refuse(Refused(431, HEAD_TOO_LARGE))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {CLIENT_DONE: {"event": self.client_done}}
        self.head_open, self.head_size = True, 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_TARGET:
            raise Refused(414, TARGET_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_size += len(name) + len(value) + 4
        if self.head_size + len(self.url) > MAX_HEAD:
            raise Refused(431, HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self.head_open = False
        refusal = head_refusal(self.headers, self.parser.get_http_version())
        if refusal is not None:
            raise refusal
        super().on_headers_complete()

    # -- refusing -------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this for any parser error, from within its `except`."""
        error = sys.exc_info()[1]
        refusal = getattr(error, "__context__", None) if error is not None else None
        if not isinstance(refusal, Refused):
            reason = str(error) if error is not None else msg
            detail = HTTP2_PREFACE if "PRI" in reason else NOT_HTTP.format(reason=reason)
            refusal = Refused(400, detail)
        self.refuse(refusal)

    def refuse(self, refusal: Refused) -> None:
        """Answer `refusal` in its turn, then close; nothing read after it runs."""
        self.refusal = refusal
        self.head_open = False
        self.flow.pause_reading()
        log.info("http_refused", status=refusal.status, detail=refusal.detail)
        cut = self.cycle if self.cycle is not None and self.cycle.more_body else None
        if cut is not None and any(cycle is cut for cycle, _app in self.pipeline):
            self.pipeline = deque(entry for entry in self.pipeline if entry[0] is not cut)
        elif cut is not None and not cut.response_complete:
            # Running, its body cut short: it must not run on, nor answer after this.
            cut.disconnected = True
            cut.message_event.set()
            if cut.response_started:
                self.transport.close()
                return
            self.write_refusal()
            return
        if not self.answering():
            self.write_refusal()

    def write_refusal(self) -> None:
        status, body = self.refusal.status, problem_json(self.refusal.status, self.refusal.detail)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, TITLES[status].encode())]
        defaults = self.server_state.default_headers  # date and server, as on every answer
        head += [name + b": " + value + b"\r\n" for name, value in defaults]
        head.append(b"content-type: application/problem+json\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def head_refusal(headers: list[tuple[bytes, bytes]], version: str) -> Refused | None:
    """What RFC 9112 refuses in a parsed head: Host missing from HTTP/1.1, or repeated, or not a
    host; a transfer coding other than chunked (the only one a server must decode)."""
    hosts = [value for name, value in headers if name == b"host"]
    if len(hosts) > 1 or (not hosts and version == "1.1"):
        return Refused(400, NO_HOST.format(count=len(hosts)))
    if hosts and not _HOST.fullmatch(hosts[0].strip()):
        return Refused(400, BAD_HOST)
    for name, value in headers:
        if name == b"transfer-encoding" and value.strip().lower() != b"chunked":
            return Refused(501, CODING.format(coding=value.decode("latin-1")))
    return None
