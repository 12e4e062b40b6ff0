"""What a hostile client or network sends, through a real server process, on both backends:
bodies that never arrive whole, pipelined requests, malformed and oversized heads, split header
lines, deep documents, media types spelled with spaces. Each request is executed only when it
arrived whole, answered in order or not executed, and refused with a problem a person can act on.
(Issue 22's reproductions, one by one.)"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from support.live_server import LiveServer
from tests.conftest import WRITE
from tests.live.conftest import SESSIONS, event_count, get, no_traceback
from tests.live.raw_http import (
    READ_KEY,
    WRITE_KEY,
    Responses,
    answer_then_close,
    append,
    connect,
    pipelined,
    request,
    reset,
)

NEVER_WHOLE = b'{"events":[{"event_type":"aborted","message":"never sent whole"}]}'


JSON_WRITE = {**WRITE, "Content-Type": "application/json"}


# -- 1. executed only when whole ------------------------------------------------------------


def cut_short(server, method: str, path: str, body: bytes, announced: int) -> None:
    """`body` sent under a Content-Length of `announced`, then the connection reset."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nX-API-Key: {WRITE_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {announced}\r\n\r\n"
    )
    sock = connect(server)
    sock.sendall(head.encode() + body)
    time.sleep(0.3)  # the server has read what was sent, and waits for the rest
    reset(sock)
    time.sleep(0.3)


def test_an_append_whose_body_never_arrived_whole_stores_nothing(server, session_id):
    cut_short(server, "POST", f"{SESSIONS}/{session_id}/events", NEVER_WHOLE, announced=106)
    assert len(NEVER_WHOLE) == 66  # valid JSON on its own, 40 bytes short of what it announced
    assert event_count(server, session_id) == 0
    assert '"status":201' not in server.output()


def test_a_session_whose_body_never_arrived_whole_is_not_made(server):
    chosen = str(uuid.uuid4())
    body = json.dumps({"id": chosen, "session_type": "build"}).encode()
    cut_short(server, "POST", SESSIONS, body, announced=len(body) + 40)
    assert get(server, f"{SESSIONS}/{chosen}").status_code == 404


def test_a_status_change_whose_body_never_arrived_whole_is_not_made(server, session_id):
    cut_short(server, "PATCH", f"{SESSIONS}/{session_id}", b'{"status":"failed"}', announced=60)
    assert get(server, f"{SESSIONS}/{session_id}").json()["status"] == "pending"


def test_a_chunked_body_followed_by_a_malformed_chunk_is_400_and_stores_nothing(server, session_id):
    head = request("POST", f"{SESSIONS}/{session_id}/events", WRITE_KEY, extra=())
    head = head.replace(b"\r\n\r\n", b"\r\nContent-Type: application/json\r\n")
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\nzz\r\n" % (
        len(NEVER_WHOLE),
        NEVER_WHOLE,
    )
    status, headers, problem = answer_then_close(server, chunked)
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    assert problem["detail"].startswith("The request is not valid HTTP/1.1 (")
    assert event_count(server, session_id) == 0


# -- 2. pipelined requests answered in order, even when the log cannot be written ------------


def test_pipelined_requests_are_answered_when_the_log_reader_is_gone(database_url, tmp_path):
    log = tmp_path / "server.log"
    server = LiveServer(database_url, log, piped_log=True, EVENTS_LOG_LEVEL="info").start()
    try:
        created = httpx.post(
            f"{server.base_url}{SESSIONS}", json={"session_type": "x"}, headers=WRITE
        )
        session_id = created.json()["id"]
        server.lose_log_reader()  # every access-log line now meets a broken pipe
        events = f"{SESSIONS}/{session_id}/events"
        answers = pipelined(server, [append(session_id, n) for n in range(5)])
        assert [status for status, _, _ in answers] == [201] * 5
        reads = [
            request("GET", f"{events}?per_page=1", READ_KEY),
            request("GET", f"{events}?per_page=1", READ_KEY),
            request("GET", "/viewer/"),
            request("GET", "/api/v2/ui/"),
            request("GET", "/no/such/path"),
            request("GET", f"{SESSIONS}/{session_id}", READ_KEY),
        ]
        statuses = [status for status, _, _ in pipelined(server, reads)]
        assert statuses == [200, 200, 200, 200, 404, 200]
        assert get(server, f"{SESSIONS}/{session_id}").json()["event_count"] == 5
    finally:
        server.stop()


def test_nothing_pipelined_after_a_refused_request_is_executed(server, session_id):
    requests = [append(session_id, 1), b"GET /viewer/ HTTP/1.1\r\nX(Y: 1\r\n\r\n"]
    requests.append(append(session_id, 2))
    with connect(server) as sock:
        sock.sendall(b"".join(requests))
        responses = Responses(sock)
        first, refused = responses.next(), responses.next()
        assert sock.recv(1) == b""
    assert (first[0], refused[0]) == (201, 400)
    assert event_count(server, session_id) == 1


# -- 7. any depth is stored and listable, or a 400 naming the limit ---------------------------


def nested_event(depth: int) -> bytes:
    """An append whose body nests `depth` objects (the body itself and its event included)."""
    inner = '{"a":' * (depth - 3) + "1" + "}" * (depth - 3)
    return ('{"events":[{"event_type":"deep","event_data":' + inner + "}]}").encode()


@pytest.mark.parametrize("depth", [513, 1_000, 100_000])
def test_a_body_nested_beyond_512_levels_is_a_400_naming_the_limit(server, session_id, depth):
    response = httpx.post(
        f"{server.base_url}{SESSIONS}/{session_id}/events",
        content=nested_event(depth),
        headers=JSON_WRITE,
    )
    assert response.status_code == 400, response.text
    assert "more than 512 levels deep" in response.json()["detail"]
    assert event_count(server, session_id) == 0
    no_traceback(server)


def test_a_body_nested_512_levels_is_stored_listed_and_streamed(server, session_id):
    events = f"{server.base_url}{SESSIONS}/{session_id}/events"
    body = nested_event(512)
    created = httpx.post(
        events, content=body, headers={**WRITE, "Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    sent = json.loads(body)["events"][0]["event_data"]
    assert created.json()["items"][0]["event_data"] == sent
    assert get(server, f"{SESSIONS}/{session_id}/events").json()["items"][0]["event_data"] == sent
    httpx.patch(
        f"{server.base_url}{SESSIONS}/{session_id}", json={"status": "failed"}, headers=WRITE
    )
    streamed = get(server, f"{SESSIONS}/{session_id}/events/stream").text
    data = [line[6:] for line in streamed.splitlines() if line.startswith("data: ")]
    assert json.loads(data[0])["event_data"] == sent
    no_traceback(server)


# -- 8. media types as RFC 9110 spells them; 415s that say what to send ----------------------


@pytest.mark.parametrize(
    "content_type", ["application/json ;charset=utf-8", "Application/JSON; Charset=UTF-8"]
)
def test_a_media_type_spelled_as_rfc_9110_allows_is_accepted(server, session_id, content_type):
    response = httpx.post(
        f"{server.base_url}{SESSIONS}/{session_id}/events",
        content=b'{"events":[{"event_type":"spaced"}]}',
        headers={**WRITE, "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text


def test_a_form_body_is_a_415_saying_which_content_type_to_send(server, session_id):
    response = httpx.post(  # what `curl -d` sends
        f"{server.base_url}{SESSIONS}/{session_id}/events",
        content=b'{"events":[{"event_type":"form"}]}',
        headers={**WRITE, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["detail"] == (
        "The request body is sent as application/x-www-form-urlencoded; send it with "
        "Content-Type: application/json (curl: -H 'Content-Type: application/json')."
    )


def test_a_body_without_a_media_type_is_a_415_saying_which_to_send(server, session_id):
    data = request("POST", f"{SESSIONS}/{session_id}/events", WRITE_KEY, b'{"events":[]}')
    data = data.replace(b"Content-Type: application/json\r\n", b"")
    with connect(server) as sock:
        sock.sendall(data)
        status, _, body = Responses(sock).next()
    assert status == 415
    assert "send it with Content-Type: application/json" in json.loads(body)["detail"]


# -- 10. a list field split across lines ------------------------------------------------------


def test_if_none_match_on_two_lines_matches_any_of_their_tags(server, session_id):
    path = f"{SESSIONS}/{session_id}/events"
    tag = get(server, path).headers["etag"]
    data = request(
        "GET", path, READ_KEY, extra=('If-None-Match: "0000"', f"If-None-Match: W/{tag}")
    )
    with connect(server) as sock:
        sock.sendall(data)
        status, headers, body = Responses(sock).next()
    assert (status, headers["etag"], body) == (304, tag, b"")
