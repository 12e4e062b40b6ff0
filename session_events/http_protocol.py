"""uvicorn's httptools protocol, held to RFC 9112 where uvicorn is lenient or silent.

uvicorn (0.54) answers a request it cannot parse with a text/plain 400 written at once, even in
the middle of the answer to an earlier pipelined request; accepts a request without Host or
with two, a target, a head or a trailer of any size, a head that trickles in forever, a
transfer coding it cannot decode, an upgrade whose body the parser then runs as requests;
merges trailer fields into the request's headers; marks only the newest request of a lost
connection as disconnected; and lets asyncio close the connection when the client half-closes,
losing the answers still due. This subclass, passed to uvicorn as its `http` protocol class, is
the one seam for all of that (what is refused, and how it is said: http_refusals.py):

- A refused request is answered with a problem+json after the requests before it on the
  connection are answered, and the connection is then closed: nothing sent after it runs. A
  request whose body the error cut short never runs (its receive channel says the client left).
- A connection closed while the client may still be sending (after a refusal, or a 413 or 408
  whose body was left unread) is closed as RFC 9112 9.6 advises: our side is shut first, what
  still arrives is read and dropped until the client closes or LINGER_SECONDS pass. Closed at
  once, its unread input would make the kernel reset the connection, and the client could lose
  the answer that says what was wrong.
- The client's end of sending (EOF) means "no more requests": what it sent is answered, then
  the connection closes. But requests that wait on the client (long-polls, streams, a body
  still to come) learn of it through the scope extension CLIENT_DONE (a ClientDone), and
  end (a long-poll answers at once, a stream ends, a body cut short is a 400): TCP cannot tell
  a half-close from a peer that closed its socket, and the second is gone now, not at the
  next write that fails. A client that sent EOF, or whose server is stopping, and that reads
  nothing of what is written to it for STALLED_SECONDS, is dropped rather than waited on.
- A lost connection marks every request of it still open as disconnected, the running one
  behind a queued pipelined request included.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from session_events.http_connection import ClientDone, LingeringClose
from session_events.http_refusals import (
    HEAD_TIMEOUT_SECONDS,
    HEAD_TOO_LARGE,
    HEAD_TOO_SLOW,
    MAX_HEAD,
    MAX_TARGET,
    TARGET_TOO_LONG,
    Refused,
    head_refusal,
    parser_refusal,
    refusal_bytes,
)

log = structlog.get_logger("session_events.http")

# scope["extensions"][CLIENT_DONE]["event"]: a ClientDone
CLIENT_DONE = "session_events.client_done"
# scope["extensions"][BODY_WRITER]["write"]: write_body for the request
BODY_WRITER = "session_events.body_writer"
STALLED_SECONDS = 1.0  # how long a client that sent EOF may leave our writes paused
MAX_QUEUED = 8  # pipelined requests waiting their turn while reading goes on


class StrictHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client_done = ClientDone()  # the client sent EOF: it will send nothing more
        self.done_extension = {"event": self.client_done}
        self.body_writer = {"write": self.write_body}  # one a connection, not one a request
        self.refusal: Refused | None = None  # answered once the requests before it are
        self.head_began: float | None = None  # while a request's head is arriving: since when
        self.idle_since: float | None = None  # while nothing is asked nor answered: since when
        # Since the last head ended: bytes read that were not body (chunk framing, trailers,
        # the next head) and bytes of body, to bound the first by the second.
        self.outside_body = self.body_read = 0
        self.last_read = 0  # the size of the last read
        self.heads_read = 0
        self.upgraded = False  # a request asked to upgrade: what follows it is never read
        self.stopping = False  # the server is shutting down
        self.open_cycles: list = []  # this connection's requests whose response is not complete
        self.stall_check: asyncio.TimerHandle | None = None
        self.stalled_at = 0  # the write buffer's size when the stall check was armed
        self.head_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(LingeringClose(transport, self.unread_input))
        self.idle_since = self.loop.time()
        self.head_check = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self.check_head)

    def write_body(self, data: bytes) -> bool:
        """Write `data` as the next chunk of the response being answered now, around the ASGI
        send and every middleware it passes through (nothing they do concerns a body chunk in
        the middle of a stream): a hub writes one event to ten thousand streams without
        waking ten thousand tasks. The response answered is the oldest open one (they
        complete in order; a stream holds the connection). False, and nothing written, when
        it is not a chunked one under way, the client is gone or writing is paused: the
        caller then sends through ASGI, which waits for the client to read."""
        cycle = self.open_cycles[0] if self.open_cycles else None
        if (
            cycle is None
            or not cycle.response_started
            or cycle.response_complete
            or not cycle.chunked_encoding
            or cycle.disconnected
            or self.flow.write_paused
        ):
            return False
        self.transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        return True

    def unread_input(self) -> bool:
        """Whether the client may still be sending what will not be read: after a refused
        request or an upgrade, or a body not read to its end (answered before it was, a 413 or
        408); never once it has said it sends no more."""
        if self.client_done.is_set():
            return False
        cycle = self.cycle
        return self.refusal is not None or self.upgraded or (cycle is not None and cycle.more_body)

    def answering(self) -> bool:
        """Whether a request on this connection is running or waiting its turn."""
        return any(not cycle.response_complete for cycle in self.open_cycles)

    # -- the client's end of sending, and of reading ---------------------------------------

    def eof_received(self) -> bool:
        self.client_done.set()
        for cycle in self.open_cycles:
            if cycle.more_body:  # its body can no longer arrive whole: its reader should see
                cycle.message_event.set()
        if self.transport.lingering:
            return False  # the client has read our answer and closed: close now
        self.watch_for_stall()
        # True keeps the transport open for the answers still due; False closes it now.
        return self.answering()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.watch_for_stall()

    def watch_for_stall(self) -> None:
        """A client that said it sends no more, or whose server is stopping, and that does not
        read what is written to it for STALLED_SECONDS, is gone: it is dropped."""
        stalling = self.client_done.is_set() or self.stopping
        if stalling and self.flow.write_paused and self.stall_check is None:
            self.stalled_at = self.transport.get_write_buffer_size()
            self.stall_check = self.loop.call_later(STALLED_SECONDS, self.drop_if_stalled)

    def drop_if_stalled(self) -> None:
        self.stall_check = None
        if not self.flow.write_paused:
            return
        if self.transport.get_write_buffer_size() >= self.stalled_at:  # nothing was read
            self.transport.abort()  # close() would wait for a flush that cannot come
        else:  # slow, but reading: look again
            self.watch_for_stall()

    def shutdown(self) -> None:
        super().shutdown()
        self.stopping = True
        self.watch_for_stall()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.client_done.set()
        for cycle in self.open_cycles:
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        self.open_cycles.clear()
        for timer in (self.stall_check, self.head_check):
            if timer is not None:
                timer.cancel()

    def on_response_complete(self) -> None:
        cycles = self.open_cycles
        if cycles and cycles[0].response_complete:  # the oldest: they complete in order
            del cycles[0]
        super().on_response_complete()
        if cycles or self.transport.is_closing():
            return
        if self.refusal is not None:
            self.write_refusal()
        elif self.client_done.is_set():
            self.transport.close()
        else:
            self.idle_since = self.loop.time()
            if self.head_check is None:
                self.head_check = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self.check_head)

    # -- reading requests -----------------------------------------------------------------

    def check_head(self) -> None:
        """Every HEAD_TIMEOUT_SECONDS at most: a head arriving for longer is cut (408), and a
        connection on which nothing was asked for that long is closed. (One timer a
        connection, moved on when it fires, rather than one set and cancelled a request; none
        while a request is answered, so that idle streams cost no wake-ups.)"""
        now, limit = self.loop.time(), HEAD_TIMEOUT_SECONDS
        if self.head_began is not None and now - self.head_began >= limit:
            return self.refuse(Refused(408, HEAD_TOO_SLOW))
        if self.idle_since is not None and now - self.idle_since >= limit:
            return self.transport.close()
        since = self.head_began if self.head_began is not None else self.idle_since
        if since is None:  # a request is being answered: armed again when it has been
            self.head_check = None
            return
        self.head_check = self.loop.call_later(limit - (now - since), self.check_head)

    def data_received(self, data: bytes) -> None:
        if self.refusal is not None or self.transport.lingering:  # read, and dropped
            return
        if self.idle_since is not None:  # the first bytes of a request: its head's clock starts
            self.idle_since, self.head_began = None, self.loop.time()
        body_before, heads_before = self.body_read, self.heads_read
        self.last_read = len(data)
        super().data_received(data)
        if self.refusal is not None or self.heads_read != heads_before:
            return  # a head that ended in this read was measured whole
        # What of this read was not body (a head, chunk framing, trailers) counts against the
        # head's limit, with room for framing in proportion to the body: so that an endless
        # head or trailer is cut as it comes (httptools holds a field until its end).
        self.outside_body += len(data) - (self.body_read - body_before)
        if self.outside_body > MAX_HEAD + self.body_read // 8:
            too_long = self.head_began is not None and len(self.url) > MAX_TARGET
            self.refuse(Refused(414, TARGET_TOO_LONG) if too_long else Refused(431, HEAD_TOO_LARGE))

    def on_body(self, body: bytes) -> None:
        self.body_read += len(body)
        super().on_body(body)

    def on_headers_complete(self) -> None:
        outside_body, self.head_began = self.outside_body, None
        self.outside_body = self.body_read = 0
        self.heads_read += 1
        if len(self.url) > MAX_TARGET:
            raise Refused(414, TARGET_TOO_LONG)
        if outside_body + self.last_read > MAX_HEAD and head_size(self.headers) > MAX_HEAD:
            raise Refused(431, HEAD_TOO_LARGE)
        parser = self.parser
        upgrade = parser.should_upgrade()
        version, method = parser.get_http_version(), parser.get_method()
        refusal = head_refusal(self.headers, version, method, upgrade)
        if refusal is not None:
            raise refusal
        extensions = self.scope["extensions"] = {CLIENT_DONE: self.done_extension}
        super().on_headers_complete()
        cycle, cycles = self.cycle, self.open_cycles
        if cycle is not None and (not cycles or cycles[-1] is not cycle):
            cycles.append(cycle)
            extensions[BODY_WRITER] = self.body_writer
            if upgrade:  # served over HTTP/1.1, and what follows is unread
                cycle.keep_alive = False
                self.upgraded = True
        # Trailer fields (after a chunked body) go to uvicorn's list of headers: a list of
        # their own, never the request's.
        self.headers = []
        # uvicorn stops reading while a request waits its turn; a few may wait while reading
        # goes on, so that a client's FIN or reset is still seen by the request running.
        if 0 < len(self.pipeline) <= MAX_QUEUED:
            self.flow.resume_reading()

    # -- refusing -------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this for any parser error, from within its `except`."""
        self.refuse(parser_refusal(sys.exc_info()[1]))

    def refuse(self, refusal: Refused) -> None:
        """Answer `refusal` in its turn, then close; nothing read after it runs."""
        self.refusal = refusal
        self.head_began = None  # (reading goes on, every byte dropped, so a reset is seen)
        log.info("http_refused", status=refusal.status, detail=refusal.detail)
        cut = self.cycle if self.cycle in self.open_cycles and self.cycle.more_body else None
        if cut is not None and any(cycle is cut for cycle, _app in self.pipeline):
            self.pipeline = deque(entry for entry in self.pipeline if entry[0] is not cut)
            self.open_cycles.remove(cut)
        elif cut is not None:
            # Running, its body cut short: it must not run on, nor answer after this.
            cut.disconnected = True
            cut.message_event.set()
            self.open_cycles.remove(cut)
            if cut.response_started:
                self.transport.abort()
                return
        if not self.answering():
            self.write_refusal()

    def write_refusal(self) -> None:
        self.transport.write(refusal_bytes(self.refusal, self.server_state.default_headers))
        self.transport.close()


def head_size(headers: list[tuple[bytes, bytes]]) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers)
