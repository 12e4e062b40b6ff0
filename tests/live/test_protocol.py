"""HTTP/1.1 at the edge, through a real server process on a raw socket, on both backends:
pipelined requests are each answered in order, and a request body that stalls is cut."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.conftest import READ, WRITE
from tests.live.raw_http import READ_KEY, WRITE_KEY, Responses, append, pipelined, request


def test_pipelined_appends_are_each_answered_in_order_and_stored_once(server, session_id):
    answers = pipelined(server, [append(session_id, n) for n in range(5)])
    assert [status for status, _, _ in answers] == [201] * 5
    assert [json.loads(body)["items"][0]["seq"] for _, _, body in answers] == [1, 2, 3, 4, 5]
    events = f"{server.base_url}/api/v2/sessions/{session_id}/events?order=asc"
    listing = httpx.get(events, headers=READ)
    assert [event["event_data"]["n"] for event in listing.json()["items"]] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("half_close", [False, True], ids=["open", "half-closed"])
def test_pipelined_appends_of_a_client_that_half_closed_are_all_answered(
    server, session_id, half_close
):
    answers = pipelined(server, [append(session_id, n) for n in range(5)], half_close=half_close)
    assert [status for status, _, _ in answers] == [201] * 5
    session = httpx.get(f"{server.base_url}/api/v2/sessions/{session_id}", headers=READ)
    assert session.json()["event_count"] == 5


def test_pipelined_reads_of_a_client_that_half_closed_are_all_answered(server, session_id):
    requests = [
        request("GET", f"/api/v2/sessions/{session_id}/events", READ_KEY),
        request("GET", "/viewer/"),
        request("GET", f"/api/v2/sessions/{session_id}", READ_KEY),
    ] * 2
    answers = pipelined(server, requests, half_close=True)
    assert [status for status, _, _ in answers] == [200] * 6


def test_pipelined_reads_of_every_kind_are_each_answered_in_order(server, session_id):
    events = f"/api/v2/sessions/{session_id}/events"
    requests = [
        request("GET", f"{events}?per_page=1", READ_KEY),
        request("GET", "/viewer/"),
        request("GET", f"/api/v2/sessions/{session_id}", READ_KEY),
        request("GET", "/healthz"),
        request("GET", "/viewer/viewer.css"),
        request("GET", events, "wrong-key"),
        request("GET", "/api/v2/sessions?per_page=1", READ_KEY),
    ]
    answers = pipelined(server, requests)
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 200, 401, 200]
    assert json.loads(answers[0][2])["items"] == []
    assert answers[1][1]["content-type"] == "text/html; charset=utf-8"
    assert json.loads(answers[2][2])["id"] == session_id
    assert answers[4][1]["content-type"] == "text/css; charset=utf-8"
    # Each answer is its own request's: the ids are all different.
    assert (
        len({headers["x-request-id"] for _, headers, _ in answers if "x-request-id" in headers})
        == 6
    )


def test_pipelined_viewer_pages_are_each_answered(server):
    answers = pipelined(server, [request("GET", "/viewer/")] * 4)
    assert [status for status, _, _ in answers] == [200] * 4
    assert len({body for _, _, body in answers}) == 1


@pytest.fixture
def impatient_server(live_server):
    return live_server(EVENTS_BODY_TIMEOUT_SECONDS="1")


def test_a_body_short_of_its_content_length_is_cut_with_408_and_nothing_stored(impatient_server):
    server = impatient_server
    created = httpx.post(
        f"{server.base_url}/api/v2/sessions", json={"session_type": "build"}, headers=WRITE
    )
    session_id = created.json()["id"]
    head = request("POST", f"/api/v2/sessions/{session_id}/events", WRITE_KEY, b"x" * 1000)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head[: len(head) - 990])  # the headers and 10 bytes of the 1000 announced
        status, headers, body = Responses(sock).next()
        assert sock.recv(1) == b""  # then the connection is closed
    assert time.monotonic() - started < 5
    assert (status, headers["connection"]) == (408, "close")
    assert "send the whole body" in json.loads(body)["detail"]
    session = httpx.get(f"{server.base_url}/api/v2/sessions/{session_id}", headers=READ)
    assert session.json()["event_count"] == 0


def test_a_slow_but_steady_body_within_the_timeout_is_stored(impatient_server):
    server = impatient_server
    created = httpx.post(
        f"{server.base_url}/api/v2/sessions", json={"session_type": "build"}, headers=WRITE
    )
    session_id = created.json()["id"]
    head, _, body = append(session_id, 7).partition(b"\r\n\r\n")
    parts = [body[n : n + len(body) // 5 + 1] for n in range(0, len(body), len(body) // 5 + 1)]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"\r\n\r\n")
        for part in parts:  # 0.4 s apart: the body takes longer than the timeout, all told
            time.sleep(0.4)
            sock.sendall(part)
        status, _, body = Responses(sock).next()
    assert time.monotonic() - started > 1.5
    assert status == 201
    assert json.loads(body)["items"][0]["event_data"] == {"n": 7}
