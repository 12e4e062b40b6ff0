"""The HTTP edge under a hostile client, through a real server process on both backends: what it
refuses before a request reaches the app (malformed, oversized, slow or smuggling heads, upgrades,
trailers), each answered in its turn with a problem+json, nothing after it executed (issue 22,
item 9, and what the attack on its first fix found)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.live.conftest import SESSIONS, event_count, no_traceback
from tests.live.raw_http import (
    READ_KEY,
    WRITE_KEY,
    Responses,
    answer_then_close,
    append,
    connect,
    request,
)

MALFORMED = {
    "content-length and chunked": b"POST /api/v2/sessions HTTP/1.1\r\nHost: t\r\n"
    b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "( in a header name": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX(Y: 1\r\n\r\n",
    "NUL in a header value": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Y: a\x00b\r\n\r\n",
    "bad chunk size": b"POST /api/v2/sessions HTTP/1.1\r\nHost: t\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    "bare LF line ends": b"GET /healthz HTTP/1.1\nHost: t\n\n",
    "two Content-Lengths": b"POST /api/v2/sessions HTTP/1.1\r\nHost: t\r\n"
    b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "folded header line": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_is_a_400_problem_naming_what_is_wrong(server, data):
    status, headers, problem = answer_then_close(server, data)
    assert (status, headers["content-type"], headers["connection"]) == (
        400,
        "application/problem+json",
        "close",
    )
    assert problem["title"] == "Bad Request"
    assert problem["detail"].startswith("The request is not valid HTTP/1.1 (")
    assert problem["detail"].endswith("); nothing of it was executed.")


def test_a_request_smuggled_in_a_body_is_never_executed(server, session_id):
    smuggled = append(session_id, 1)
    data = (
        f"POST {SESSIONS}/{session_id}/events HTTP/1.1\r\nHost: t\r\nX-API-Key: {WRITE_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(smuggled) + 5}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ).encode() + smuggled
    assert answer_then_close(server, data)[0] == 400
    assert event_count(server, session_id) == 0


def test_a_100_kb_request_target_is_414(server):
    status, _, problem = answer_then_close(
        server, request("GET", "/api/v2/sessions?x=" + "a" * 100_000, READ_KEY)
    )
    assert (status, problem["title"]) == (414, "URI Too Long")
    assert "longer than 16384 bytes" in problem["detail"]


def test_a_head_over_64_kb_is_431(server):
    one_line = request("GET", "/healthz", extra=("X-Big: " + "a" * 200_000,))
    many_lines = request("GET", "/healthz", extra=tuple(f"X-{n}: {'b' * 60}" for n in range(2000)))
    for data in (one_line, many_lines):
        status, _, problem = answer_then_close(server, data)
        assert (status, problem["title"]) == (431, "Request Header Fields Too Large")


@pytest.mark.parametrize(
    "host_lines, count", [((), 0), (("Host: a", "Host: b"), 2)], ids=["no Host", "two Host"]
)
def test_http11_without_exactly_one_host_is_400(server, session_id, host_lines, count):
    head = "\r\n".join([f"GET {SESSIONS}/{session_id} HTTP/1.1", f"X-API-Key: {READ_KEY}"])
    data = (head + "".join(f"\r\n{line}" for line in host_lines) + "\r\n\r\n").encode()
    status, _, problem = answer_then_close(server, data)
    assert status == 400
    assert problem["detail"] == (
        f"An HTTP/1.1 request needs exactly one Host header field; this one has {count}."
    )


def test_a_transfer_coding_other_than_chunked_is_501(server):
    data = b"POST /api/v2/sessions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    status, _, problem = answer_then_close(server, data)
    assert status == 501
    assert problem["detail"].startswith("Transfer-Encoding: gzip, chunked is not supported")


def test_every_refusal_is_logged_without_a_traceback(live_server):
    server = live_server(EVENTS_LOG_LEVEL="info")
    for data in MALFORMED.values():
        answer_then_close(server, data)
    output = server.output_once_it_shows('"http_refused"')
    assert "Invalid HTTP request received" not in output
    no_traceback(server)


@pytest.mark.parametrize("line", ["GET /healthz", "GET /healthz HTTP/2.0"], ids=["0.9", "2.0"])
def test_a_version_other_than_http11_or_10_is_505(server, line):
    status, _, problem = answer_then_close(server, f"{line}\r\n\r\n".encode())
    assert (status, problem["title"]) == (505, "HTTP Version Not Supported")


def test_a_malformed_chunk_in_a_pipelined_request_is_answered_after_the_one_before(
    server, session_id
):
    body = b'{"events":[{"event_type":"second"}]}'
    second = request("POST", f"{SESSIONS}/{session_id}/events", WRITE_KEY, body)
    second = second.replace(b"Content-Length: %d" % len(body), b"Transfer-Encoding: chunked")
    second = second.replace(b"\r\n\r\n" + body, b"\r\n\r\n%x\r\n%s\r\nzz\r\n" % (len(body), body))
    with connect(server) as sock:
        sock.sendall(append(session_id, 1) + second)
        responses = Responses(sock)
        first, refused = responses.next(), responses.next()
        assert sock.recv(1) == b""
    assert (first[0], refused[0]) == (201, 400)
    assert "Invalid character in chunk size" in json.loads(refused[2])["detail"]
    assert event_count(server, session_id) == 1


@pytest.mark.parametrize(
    "head",
    [
        "POST {events} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: foo\r\n",
        "CONNECT {events} HTTP/1.1\r\nHost: t\r\n",
    ],
    ids=["Upgrade", "CONNECT"],
)
def test_a_request_hidden_in_the_body_of_an_upgrade_or_connect_never_runs(server, session_id, head):
    smuggled = append(session_id, 1)
    head = head.format(events=f"{SESSIONS}/{session_id}/events")
    head += f"X-API-Key: {WRITE_KEY}\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(head.encode())
        time.sleep(0.3)  # the "body" in a packet of its own
        sock.sendall(smuggled)
        status, _, body = Responses(sock).next()
    assert status in (400, 501)
    assert json.loads(body)["detail"]
    time.sleep(0.3)
    assert event_count(server, session_id) == 0


def test_an_upgrade_without_a_body_is_served_as_http11_in_its_turn(server, session_id):
    upgrade = request(
        "GET",
        f"{SESSIONS}/{session_id}",
        READ_KEY,
        extra=("Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13"),
    )
    with connect(server) as sock:
        sock.sendall(append(session_id, 1) + upgrade)
        responses = Responses(sock)
        first, second = responses.next(), responses.next()
        assert sock.recv(1) == b""  # what follows an upgrade is never read: the connection ends
    assert (first[0], second[0], second[1]["connection"]) == (201, 200, "close")
    no_traceback(server)


def test_trailer_fields_are_never_taken_for_headers(server, session_id):
    body = b'{"events":[{"event_type":"from_trailer"}]}'
    data = (
        f"POST {SESSIONS}/{session_id}/events HTTP/1.1\r\nHost: t\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\nX-API-Key: %s\r\n\r\n" % (len(body), body, WRITE_KEY.encode())
    with connect(server) as sock:
        sock.sendall(data)
        status, _, _ = Responses(sock).next()
    assert status == 401
    assert event_count(server, session_id) == 0


def test_a_head_that_trickles_in_is_cut_with_408_and_an_idle_connection_closed(server):
    trickling, idle = connect(server, timeout=30), connect(server, timeout=30)
    with trickling, idle:
        started = time.monotonic()
        for byte in b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ":
            trickling.sendall(bytes([byte]))
            time.sleep(0.1)
        trickling.sendall(b"a")  # a byte every half second: never a whole head
        while time.monotonic() - started < 8:
            time.sleep(0.5)
            trickling.sendall(b"a")
        status, headers, body = Responses(trickling).next()
        assert (status, headers["connection"]) == (408, "close")
        assert "did not arrive within 10 s" in json.loads(body)["detail"]
        assert idle.recv(1) == b""  # it never asked anything: closed too
        assert time.monotonic() - started < 15


def test_a_body_whose_sender_stops_sending_is_a_400_at_once(server, session_id):
    body = b'{"events":[{"event_type":"half"}]}'
    data = request("POST", f"{SESSIONS}/{session_id}/events", WRITE_KEY, body + b" " * 50)
    with connect(server) as sock:
        sock.sendall(data[:-50])  # the announced length is 50 bytes more
        time.sleep(0.3)
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        status, _, answer = Responses(sock).next()
    assert time.monotonic() - started < 2
    assert status == 400
    assert "nothing was executed" in json.loads(answer)["detail"]
    assert event_count(server, session_id) == 0


@pytest.mark.parametrize("field", ["X-API-Key", "Last-Event-ID", "Content-Type"])
def test_a_field_of_one_value_sent_twice_is_400(server, session_id, field):
    values = {"X-API-Key": (WRITE_KEY, READ_KEY), "Last-Event-ID": ("1", "abc")}
    first, second = values.get(field, ("application/json", "text/plain"))
    data = request(
        "GET",
        f"{SESSIONS}/{session_id}",
        READ_KEY,
        extra=(f"{field}: {first}", f"{field}: {second}"),
    )
    with connect(server) as sock:
        sock.sendall(data)
        status, _, body = Responses(sock).next()
    assert status == 400
    assert json.loads(body)["detail"] == (
        f"{field} is sent on more than one header line; send it once."
    )


def test_head_of_a_stream_is_the_head_alone(server, session_id):
    head = request("HEAD", f"{SESSIONS}/{session_id}/events/stream", READ_KEY)
    with connect(server) as sock:
        sock.sendall(head + request("GET", f"{SESSIONS}/{session_id}", READ_KEY))
        sock.settimeout(5)
        received = b""
        while b'"event_count"' not in received:
            received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b"retry:" not in received


def send_forever(sock: socket.socket, first: bytes, more: bytes, seconds: float = 5) -> None:
    """`first`, then `more` again and again, until the server stops reading or `seconds` pass."""
    sock.sendall(first)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sock.sendall(more)
    except OSError:  # the server closed the connection: it refused what it was reading
        pass


def test_an_endless_trailer_is_cut_with_431(server, session_id):
    body = b'{"events":[{"event_type":"trailed"}]}'
    head = (
        f"POST {SESSIONS}/{session_id}/events HTTP/1.1\r\nHost: t\r\nX-API-Key: {WRITE_KEY}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\nX-Trailer: " % (len(body), body)
    with connect(server) as sock:
        send_forever(sock, head, b"a" * 16384)
        status, _, problem = Responses(sock).next()
    assert (status, json.loads(problem)["title"]) == (431, "Request Header Fields Too Large")
    assert event_count(server, session_id) == 0


def test_an_endless_head_after_a_request_answered_before_its_body_is_cut_with_431(server):
    """/healthz answers without reading the body it was sent: the head after it still counts."""
    with connect(server) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n")
        responses = Responses(sock)
        assert responses.next()[0] == 200
        send_forever(sock, b"xGET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ", b"a" * 16384)
        assert responses.next()[0] == 431
