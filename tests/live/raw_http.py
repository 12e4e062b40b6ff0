"""HTTP/1.1 on a raw socket, for the live tests that act as clients no library would be: requests
written at once, bodies cut short, malformed heads."""

from __future__ import annotations

import json
import socket
import struct

from tests.conftest import READ, WRITE

READ_KEY, WRITE_KEY = READ["X-API-Key"], WRITE["X-API-Key"]


def request(
    method: str,
    path: str,
    key: str | None = None,
    body: bytes | None = None,
    *,
    extra: tuple[str, ...] = (),
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: test"]
    if key:
        head.append(f"X-API-Key: {key}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += extra
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


def append(session_id: str, number: int) -> bytes:
    body = json.dumps({"events": [{"event_type": "step_done", "event_data": {"n": number}}]})
    return request("POST", f"/api/v2/sessions/{session_id}/events", WRITE_KEY, body.encode())


class Responses:
    """Reads HTTP/1.1 responses one after the other off a socket."""

    def __init__(self, sock: socket.socket):
        self.file = sock.makefile("rb")

    def next(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(self.file.readline(), 16):
                body += self.file.read(size)
                self.file.readline()
            self.file.readline()
        else:
            body = self.file.read(int(headers.get("content-length", 0)))
        return int(status_line.split()[1]), headers, body


def connect(server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def pipelined(
    server, requests: list[bytes], *, half_close: bool = False
) -> list[tuple[int, dict[str, str], bytes]]:
    """Every request written at once on one connection, and the answers read in order. With
    `half_close` the client then shuts its sending side, as `printf ... | nc` does."""
    with connect(server) as sock:
        sock.sendall(b"".join(requests))
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        responses = Responses(sock)
        answers = [responses.next() for _ in requests]
        if half_close:
            assert sock.recv(1) == b""  # and once all is answered, the server closes
        return answers


def answer_then_close(server, data: bytes) -> tuple[int, dict[str, str], dict]:
    """`data` written on a new connection: the one answer, a problem document, after which the
    server closes the connection."""
    with connect(server) as sock:
        sock.sendall(data)
        status, headers, body = Responses(sock).next()
        assert sock.recv(1) == b""
    return status, headers, json.loads(body)


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a client killed mid-request does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
