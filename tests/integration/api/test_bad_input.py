"""Whatever a client sends to POST /sessions/{id}/events, the answer is never a 500, a rejected
request stores nothing, and every error is a problem+json document saying what is wrong."""

from __future__ import annotations

import json

import pytest

from session_events.app import create_app
from session_events.settings import load_settings
from tests.conftest import READ, READ_KEY, WRITE, WRITE_KEY

SESSIONS = "/api/v2/sessions"
JSON_WRITE = {**WRITE, "Content-Type": "application/json"}
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def event_count(client, session_id: str) -> int:
    response = client.get(f"{SESSIONS}/{session_id}", headers=READ)
    assert response.status_code == 200, response.text
    return response.json()["event_count"]


def stored_total(client, session_id: str) -> int:
    response = client.get(f"{SESSIONS}/{session_id}/events", headers=READ)
    assert response.status_code == 200, response.text
    return response.json()["pagination"]["total"]


def create_session_with_one_event(client) -> str:
    response = client.post(SESSIONS, json={"session_type": "test_generation"}, headers=WRITE)
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    response = client.post(
        f"{SESSIONS}/{session_id}/events", json={"events": [{"event_type": "a"}]}, headers=WRITE
    )
    assert response.status_code == 201, response.text
    return session_id


@pytest.fixture
def session_id(client) -> str:
    """A session holding exactly one event."""
    return create_session_with_one_event(client)


@pytest.fixture
def post_raw(client, session_id):
    """POST raw bytes (or keyword arguments) to the session's events."""

    def post(content: bytes | None = None, headers: dict | None = None, **kwargs):
        return client.post(
            f"{SESSIONS}/{session_id}/events",
            content=content,
            headers=JSON_WRITE if headers is None else headers,
            **kwargs,
        )

    return post


def post_events(client, session_id: str, events):
    return client.post(f"{SESSIONS}/{session_id}/events", json={"events": events}, headers=WRITE)


def assert_problem(response, status: int, title: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == PROBLEM_FIELDS
    assert (problem["type"], problem["title"], problem["status"]) == ("about:blank", title, status)
    detail = problem["detail"]
    assert isinstance(detail, str)
    assert len(detail.split()) >= 4, detail  # a sentence, not a code
    return problem


def assert_rejected(client, session_id: str, response, *, contains: str = "") -> str:
    """A 400 problem whose detail contains `contains`, and the session still holds one event."""
    detail = assert_problem(response, 400, "Bad Request")["detail"]
    assert contains in detail, detail
    assert event_count(client, session_id) == 1
    assert stored_total(client, session_id) == 1
    return detail


def event_body(fragment: bytes) -> bytes:
    """A batch of one event whose event_data holds `fragment` as the value of "x"."""
    return b'{"events": [{"event_type": "a", "event_data": {"x": ' + fragment + b"}}]}"


# --- bodies that are not JSON text ---------------------------------------------------------------


def test_malformed_json_is_400(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a"}')
    assert_rejected(client, session_id, response, contains="not valid JSON")


def test_trailing_garbage_is_400(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a"}]} trailing')
    assert_rejected(client, session_id, response, contains="not valid JSON")


def test_text_plain_content_type_is_415(client, session_id, post_raw):
    body = b'{"events": [{"event_type": "a"}]}'
    response = post_raw(body, headers={**WRITE, "Content-Type": "text/plain"})
    detail = assert_problem(response, 415, "Unsupported Media Type")["detail"]
    assert "text/plain" in detail
    assert "application/json" in detail
    assert event_count(client, session_id) == 1


def test_no_body_is_400(client, session_id, post_raw):
    response = post_raw()
    assert "content-length" not in response.request.headers or (
        response.request.headers["content-length"] == "0"
    )
    assert_rejected(client, session_id, response, contains="request body")


def test_no_body_and_no_content_type_is_400(client, session_id, post_raw):
    response = post_raw(headers=WRITE)
    assert_rejected(client, session_id, response, contains="request body")


def test_empty_string_body_is_400(client, session_id, post_raw):
    response = post_raw(b"")
    assert_rejected(client, session_id, response, contains="request body")


def test_null_body_is_400(client, session_id, post_raw):
    response = post_raw(b"null")
    assert_rejected(client, session_id, response, contains="JSON object")


def test_array_body_is_400(client, session_id, post_raw):
    response = post_raw(b'[{"event_type": "a"}]')
    assert_rejected(client, session_id, response, contains="JSON object")


def test_string_body_is_400(client, session_id, post_raw):
    response = post_raw(b'"events"')
    assert_rejected(client, session_id, response, contains="JSON object")


def test_non_utf8_body_is_400(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a", "message": "caf\xe9"}]}')
    assert_rejected(client, session_id, response, contains="UTF-8")


def test_utf16_body_is_400(client, session_id, post_raw):
    response = post_raw('{"events": [{"event_type": "a"}]}'.encode("utf-16"))
    assert_rejected(client, session_id, response, contains="UTF-8")


def test_utf8_bom_is_400(client, session_id, post_raw):
    response = post_raw(b'\xef\xbb\xbf{"events": [{"event_type": "a"}]}')
    assert_rejected(client, session_id, response, contains="BOM")


def test_lone_surrogate_escape_in_message_is_400(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a", "message": "x\\ud800y"}]}')
    assert_rejected(client, session_id, response, contains="surrogate")


def test_lone_surrogate_escape_in_event_data_key_is_400(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a", "event_data": {"\\udc00": 1}}]}')
    assert_rejected(client, session_id, response, contains="surrogate")


def test_paired_surrogate_escapes_are_accepted(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a", "message": "\\ud83d\\ude00"}]}')
    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["message"] == "😀"
    assert event_count(client, session_id) == 2


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_400(client, session_id, post_raw, literal):
    response = post_raw(event_body(literal))
    assert_rejected(client, session_id, response, contains=literal.decode())


@pytest.mark.parametrize("number", [b"1e400", b"-1e400"])
def test_number_too_large_for_a_double_is_400(client, session_id, post_raw, number):
    response = post_raw(event_body(number))
    assert_rejected(client, session_id, response, contains="too large")


def test_100000_nested_arrays_are_400(client, session_id, post_raw):
    depth = 100_000
    response = post_raw(event_body(b"[" * depth + b"]" * depth))
    assert_rejected(client, session_id, response, contains="nested too deeply")


def test_100000_nested_objects_are_400(client, session_id, post_raw):
    depth = 100_000
    response = post_raw(event_body(b'{"k":' * depth + b"1" + b"}" * depth))
    assert_rejected(client, session_id, response, contains="nested too deeply")


# --- JSON that breaks the contract ---------------------------------------------------------------


def test_empty_batch_is_400(client, session_id):
    response = post_events(client, session_id, [])
    detail = assert_rejected(client, session_id, response, contains="at least 1 item")
    assert detail.startswith("events ")


def test_1001_events_are_400(client, session_id):
    response = post_events(client, session_id, [{"event_type": "a"}] * 1001)
    detail = assert_rejected(client, session_id, response, contains="at most 1000 items")
    assert detail.startswith("events ")


def test_1000_events_are_accepted(client, session_id):
    response = post_events(client, session_id, [{"event_type": "a"}] * 1000)
    assert response.status_code == 201, response.text
    assert [e["seq"] for e in response.json()["items"]] == list(range(2, 1002))
    assert event_count(client, session_id) == 1001


def test_missing_events_field_is_400(client, session_id, post_raw):
    response = post_raw(b"{}")
    assert_rejected(client, session_id, response, contains="'events'")


def test_missing_event_type_is_400(client, session_id):
    response = post_events(client, session_id, [{"message": "no type"}])
    detail = assert_rejected(client, session_id, response, contains="'event_type'")
    assert detail.startswith("events[0] ")


def test_message_containing_nul_is_400(client, session_id):
    response = post_events(client, session_id, [{"event_type": "a", "message": "a\u0000b"}])
    detail = assert_rejected(client, session_id, response)
    assert detail.startswith("events[0].message ")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("event_type", 5, "must be a string"),
        ("event_type", "Bad Type", "must match the pattern"),
        ("event_type", "a" * 101, "at most 100 characters"),
        ("event_data", "x", "must be a JSON object"),
        ("event_data", [1, 2], "must be a JSON object"),
        ("step_id", "not-a-uuid", "must be a UUID"),
        ("id", "xyz", "must be a UUID"),
        ("message", 7, "a string"),
    ],
)
def test_wrong_field_value_is_400_naming_the_field_path(client, session_id, field, value, expected):
    events = [{"event_type": "fine"}, {"event_type": "fine", field: value}]
    response = post_events(client, session_id, events)
    detail = assert_rejected(client, session_id, response, contains=expected)
    assert detail.startswith(f"events[1].{field} "), detail


def test_wrong_type_of_first_event_names_index_zero(client, session_id):
    response = post_events(client, session_id, [{"event_type": "a", "step_id": "not-a-uuid"}])
    detail = assert_rejected(client, session_id, response, contains="not-a-uuid")
    assert detail.startswith("events[0].step_id must be a UUID"), detail


def test_unknown_field_in_an_event_is_400(client, session_id):
    response = post_events(client, session_id, [{"event_type": "a", "colour": "red"}])
    detail = assert_rejected(client, session_id, response, contains="'colour'")
    assert detail.startswith("events[0] "), detail


def test_unknown_top_level_field_is_400(client, session_id):
    body = {"events": [{"event_type": "a"}], "extra": True}
    response = client.post(f"{SESSIONS}/{session_id}/events", json=body, headers=WRITE)
    assert_rejected(client, session_id, response, contains="'extra'")


# --- body size limit -----------------------------------------------------------------------------

LIMIT = 2048


@pytest.fixture
def small_limit_client(settings):
    """The app on the same database, accepting bodies of at most 2048 bytes."""
    small = load_settings(
        {
            "EVENTS_DATABASE_URL": settings.database_url,
            "EVENTS_READ_KEYS": READ_KEY,
            "EVENTS_WRITE_KEYS": WRITE_KEY,
            "EVENTS_MAX_BODY_BYTES": str(LIMIT),
        }
    )
    with create_app(small).test_client() as test_client:
        yield test_client


def batch_of_size(size: int) -> bytes:
    """A valid batch of one event whose JSON text is exactly `size` bytes."""
    empty = json.dumps({"events": [{"event_type": "a", "message": ""}]}).encode()
    body = json.dumps({"events": [{"event_type": "a", "message": "x" * (size - len(empty))}]})
    assert len(body.encode()) == size
    return body.encode()


def chunks(body: bytes, size: int = 500):
    for start in range(0, len(body), size):
        yield body[start : start + size]


def assert_too_large(response) -> None:
    problem = assert_problem(response, 413, "Payload Too Large")
    assert problem["detail"] == (
        f"The request body is larger than {LIMIT} bytes; send fewer or smaller events per batch."
    )


def test_body_over_limit_with_content_length_is_413(small_limit_client):
    client = small_limit_client
    session_id = create_session_with_one_event(client)
    response = client.post(
        f"{SESSIONS}/{session_id}/events", content=batch_of_size(LIMIT + 1), headers=JSON_WRITE
    )
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    assert_too_large(response)
    assert event_count(client, session_id) == 1


def test_chunked_body_over_limit_is_413(small_limit_client):
    client = small_limit_client
    session_id = create_session_with_one_event(client)
    response = client.post(
        f"{SESSIONS}/{session_id}/events",
        content=chunks(batch_of_size(LIMIT + 1)),
        headers=JSON_WRITE,
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response)
    assert event_count(client, session_id) == 1


def test_body_at_the_limit_is_accepted(small_limit_client):
    client = small_limit_client
    session_id = create_session_with_one_event(client)
    response = client.post(
        f"{SESSIONS}/{session_id}/events", content=batch_of_size(LIMIT), headers=JSON_WRITE
    )
    assert response.status_code == 201, response.text
    assert event_count(client, session_id) == 2


def test_chunked_body_under_limit_is_accepted(small_limit_client):
    client = small_limit_client
    session_id = create_session_with_one_event(client)
    body = batch_of_size(LIMIT - 48)
    response = client.post(
        f"{SESSIONS}/{session_id}/events", content=chunks(body), headers=JSON_WRITE
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    [event] = response.json()["items"]
    assert (event["seq"], event["message"]) == (2, json.loads(body)["events"][0]["message"])
    assert event_count(client, session_id) == 2


def test_chunked_body_under_default_limit_is_accepted(client, session_id):
    body = json.dumps({"events": [{"event_type": "a", "message": "z" * 10_000}]}).encode()
    response = client.post(
        f"{SESSIONS}/{session_id}/events", content=chunks(body, 1000), headers=JSON_WRITE
    )
    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["message"] == "z" * 10_000
    assert event_count(client, session_id) == 2


def test_chunked_malformed_body_is_400(client, session_id):
    response = client.post(
        f"{SESSIONS}/{session_id}/events",
        content=chunks(b'{"events": [{"event_type": "a"}', 5),
        headers=JSON_WRITE,
    )
    assert_rejected(client, session_id, response, contains="not valid JSON")
