"""What a connection of the server's protocol (session_events/http_protocol.py) holds beside
its requests: its transport, closed the lingering way, and whether its client is done sending."""

from __future__ import annotations

import asyncio

LINGER_SECONDS = 2.0  # how long input is still read and dropped after our side is shut


class LingeringClose:
    """The connection's transport, as uvicorn and its request cycles use it, but for `close`:
    when the protocol says input may still be coming, our side is shut (FIN after the answer)
    and the transport closed only once the client closes its side or LINGER_SECONDS pass."""

    def __init__(self, transport: asyncio.Transport, unread_input):
        self.transport = transport
        self.unread_input = unread_input  # () -> whether the client may still be sending
        self.lingering = False
        # What every request calls, taken from the transport itself rather than through
        # __getattr__ each time (is_closing is replaced while lingering).
        self.write = transport.write
        self.is_closing = transport.is_closing

    def __getattr__(self, name):
        return getattr(self.transport, name)

    def close(self) -> None:
        transport = self.transport
        if self.lingering or transport.is_closing():
            return transport.close()
        if not (self.unread_input() and transport.can_write_eof()):
            return transport.close()
        self.lingering = True
        self.is_closing = lambda: True  # no more requests are started
        transport.write_eof()  # after what is buffered: the answer goes out whole
        transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)


class ClientDone:
    """Set when the client has sent EOF or the connection is lost. An asyncio.Event's
    `is_set`/`set`/`wait`, without the deque each Event carries (thousands of idle streams
    hold one each), and `on_set`: what it calls once set, so that a stream's watcher learns
    of it without a task of its own waiting."""

    __slots__ = ("callbacks", "done")

    def __init__(self):
        self.done = False
        self.callbacks: list | None = None

    def is_set(self) -> bool:
        return self.done

    def set(self) -> None:
        if not self.done:
            self.done = True
            callbacks, self.callbacks = self.callbacks, None
            for callback in callbacks or ():
                callback()

    def on_set(self, callback) -> None:
        if self.done:
            callback()
        elif self.callbacks is None:
            self.callbacks = [callback]
        else:
            self.callbacks.append(callback)

    def off(self, callback) -> None:
        if self.callbacks and callback in self.callbacks:
            self.callbacks.remove(callback)

    async def wait(self) -> None:
        if self.done:
            return
        woken = asyncio.get_running_loop().create_future()

        def wake():
            if not woken.done():
                woken.set_result(None)

        self.on_set(wake)
        try:
            await woken
        finally:
            self.off(wake)
