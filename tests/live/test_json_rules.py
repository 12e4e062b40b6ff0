"""The JSON rules of the door, through a real server process on both backends: a body must say it
is JSON, and numbers follow I-JSON (beyond a double's range refused, naming the field; within
it stored and served back digit for digit by every way the service serves them)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import READ, WRITE

SESSIONS = "/api/v2/sessions"
JSON_WRITE = {**WRITE, "Content-Type": "application/json"}
HUGE_INTEGER = "1" + "0" * 400


@pytest.fixture
def http(live_server):
    server = live_server()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def new_session(http: httpx.Client, config: str = "{}") -> str:
    body = f'{{"session_type": "build", "config": {config}}}'.encode()
    response = http.post(SESSIONS, content=body, headers=JSON_WRITE)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def events_of(http: httpx.Client, session_id: str) -> list:
    response = http.get(f"{SESSIONS}/{session_id}/events", headers=READ)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def sessions_total(http: httpx.Client) -> int:
    response = http.get(SESSIONS, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()["pagination"]["total"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "{events}", b'{"events": [{"event_type": "untyped"}]}'),
        ("POST", "{sessions}", b'{"session_type": "untyped"}'),
        ("PATCH", "{session}", b'{"status": "failed"}'),
    ],
    ids=["append", "create", "update"],
)
def test_a_json_body_without_content_type_is_a_415_and_changes_nothing(http, method, path, body):
    session_id = new_session(http)
    url = path.format(
        sessions=SESSIONS,
        session=f"{SESSIONS}/{session_id}",
        events=f"{SESSIONS}/{session_id}/events",
    )
    response = http.request(method, url, content=body, headers=WRITE)
    assert "content-type" not in response.request.headers
    assert response.status_code == 415, response.text
    problem = response.json()
    assert problem["title"] == "Unsupported Media Type"
    assert "send it with Content-Type: application/json" in problem["detail"]
    assert events_of(http, session_id) == []
    assert sessions_total(http) == 1
    assert http.get(f"{SESSIONS}/{session_id}", headers=READ).json()["status"] == "pending"


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", HUGE_INTEGER], ids=["1e400", "-1e400", "400 digits"]
)
def test_a_number_beyond_a_double_is_a_400_naming_its_field_and_nothing_is_stored(http, number):
    session_id = new_session(http)
    append = f'{{"events": [{{"event_type": "a", "event_data": {{"n": {number}}}}}]}}'.encode()
    response = http.post(f"{SESSIONS}/{session_id}/events", content=append, headers=JSON_WRITE)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(
        "events[0].event_data.n holds a number beyond the range of a double ("
    )
    create = f'{{"session_type": "build", "config": {{"deep": [{number}]}}}}'.encode()
    response = http.post(SESSIONS, content=create, headers=JSON_WRITE)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(
        "config.deep[0] holds a number beyond the range of a double ("
    )
    # Nothing stored, and what serves the stored data keeps answering.
    assert events_of(http, session_id) == []
    assert sessions_total(http) == 1


BIG = [str(2**70), str(2**63), str(-(2**70)), str(2**64 - 1)]


def test_integers_beyond_64_bits_are_stored_and_served_back_as_sent(http):
    numbers = ", ".join(BIG)
    session_id = new_session(http, config=f'{{"ids": [{numbers}]}}')
    append = f'{{"events": [{{"event_type": "a", "event_data": {{"ids": [{numbers}]}}}}]}}'
    response = http.post(
        f"{SESSIONS}/{session_id}/events", content=append.encode(), headers=JSON_WRITE
    )
    assert response.status_code == 201, response.text
    sent = f"[{numbers}]".replace(" ", "")
    assert sent in response.text.replace(" ", "")

    listing = http.get(f"{SESSIONS}/{session_id}/events", headers=READ)
    assert listing.status_code == 200, listing.text
    assert sent in listing.text.replace(" ", "")
    assert json.loads(listing.text)["items"][0]["event_data"]["ids"] == [int(n) for n in BIG]

    for url in (SESSIONS, f"{SESSIONS}/{session_id}"):
        answer = http.get(url, headers=READ)
        assert answer.status_code == 200, answer.text
        assert sent in answer.text.replace(" ", "")

    ended = http.patch(f"{SESSIONS}/{session_id}", json={"status": "completed"}, headers=WRITE)
    assert ended.status_code == 200, ended.text
    stream = http.get(f"{SESSIONS}/{session_id}/events/stream", headers=READ)
    assert stream.status_code == 200
    data = [line for line in stream.text.splitlines() if line.startswith("data: ")]
    assert sent in data[0].replace(" ", "")
