"""uvicorn's httptools protocol, answering every request a client sent before it half-closed.

A client may write several requests at once and then shut down its sending side (`printf ... |
nc`, many scripted clients and proxies do). uvicorn's protocol lets asyncio close the connection
at that end-of-file, so of the pipelined requests at most the first is answered, and the others
are lost with their answers. Here the end-of-file only means "no more requests": the connection
stays open for writing until the requests already received are answered, then closes. The fix
belongs in uvicorn (an `eof_received` that returns True while requests are pending); until then
this subclass is passed to uvicorn as its `http` protocol class.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HalfCloseHttpToolsProtocol(HttpToolsProtocol):
    client_done = False  # the client half-closed: answer what it sent, then close

    def eof_received(self) -> bool:
        self.client_done = True
        # True keeps the transport open for the answers still to come; False lets asyncio close
        # it at once, as when nothing is left to answer.
        return not self._idle()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.client_done and self._idle() and not self.transport.is_closing():
            self.transport.close()

    def _idle(self) -> bool:
        """No request running or queued on this connection."""
        running = self.cycle is not None and not self.cycle.response_complete
        return not running and not self.pipeline
