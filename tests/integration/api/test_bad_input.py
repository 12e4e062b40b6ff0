"""Whatever a client sends to POST /sessions/{id}/events, the answer is never a 500, a rejected
request stores nothing, and every error is a problem+json document saying what is wrong."""

from __future__ import annotations

import json

import pytest

from session_events.app import create_app
from session_events.settings import load_settings
from tests.conftest import READ, READ_KEY, WRITE, WRITE_KEY
from tests.integration.api.api_helpers import (
    PROBLEM_FIELDS,
    assert_problem,
    event_count,
    events_url,
    new_session_with_event,
    post_events,
    stored_total,
)

JSON_WRITE = {**WRITE, "Content-Type": "application/json"}


@pytest.fixture
def session_id(client) -> str:
    """A session holding exactly one event."""
    return new_session_with_event(client)


def post_body(client, session_id: str, content=None, headers: dict | None = None):
    """POST raw bytes (or an iterator of chunks) to the session's events, as JSON by default."""
    return client.post(
        events_url(session_id),
        content=content,
        headers=JSON_WRITE if headers is None else headers,
    )


@pytest.fixture
def post_raw(client, session_id):
    """`post_body` to the session of the `session_id` fixture."""

    def post(content=None, headers: dict | None = None):
        return post_body(client, session_id, content, headers)

    return post


def assert_sentence_problem(response, status: int, title: str) -> dict:
    """A problem document of exactly the four problem fields, whose detail is a sentence."""
    problem = assert_problem(response, status, title)
    assert set(problem) == PROBLEM_FIELDS
    assert problem["type"] == "about:blank"
    detail = problem["detail"]
    assert isinstance(detail, str)
    assert len(detail.split()) >= 4, detail  # a sentence, not a code
    return problem


def assert_rejected(client, session_id: str, response, *, contains: str = "") -> str:
    """A 400 problem whose detail contains `contains`, and the session still holds one event."""
    detail = assert_sentence_problem(response, 400, "Bad Request")["detail"]
    assert contains in detail, detail
    assert event_count(client, session_id) == 1
    assert stored_total(client, session_id) == 1
    return detail


def event_body(fragment: bytes) -> bytes:
    """A batch of one event whose event_data holds `fragment` as the value of "x"."""
    return b'{"events": [{"event_type": "a", "event_data": {"x": ' + fragment + b"}}]}"


# --- bodies that are not JSON text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b'{"events": [{"event_type": "a"}', "not valid JSON", id="malformed_json"),
        pytest.param(
            b'{"events": [{"event_type": "a"}]} trailing', "not valid JSON", id="trailing_garbage"
        ),
        pytest.param(
            b'{"events": [{"event_type": "a", "message": "caf\xe9"}]}', "UTF-8", id="non_utf8"
        ),
        pytest.param('{"events": [{"event_type": "a"}]}'.encode("utf-16"), "UTF-8", id="utf16"),
        pytest.param(b'\xef\xbb\xbf{"events": [{"event_type": "a"}]}', "BOM", id="utf8_bom"),
        pytest.param(
            b'{"events": [{"event_type": "a", "message": "x\\ud800y"}]}',
            "surrogate",
            id="lone_surrogate_escape_in_message",
        ),
        pytest.param(
            b'{"events": [{"event_type": "a", "event_data": {"\\udc00": 1}}]}',
            "surrogate",
            id="lone_surrogate_escape_in_event_data_key",
        ),
    ],
)
def test_body_that_is_not_utf8_json_text_is_400(client, session_id, post_raw, body, expected):
    response = post_raw(body)
    assert_rejected(client, session_id, response, contains=expected)


def test_text_plain_content_type_is_415(client, session_id, post_raw):
    body = b'{"events": [{"event_type": "a"}]}'
    response = post_raw(body, headers={**WRITE, "Content-Type": "text/plain"})
    detail = assert_sentence_problem(response, 415, "Unsupported Media Type")["detail"]
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


@pytest.mark.parametrize(
    "body",
    [b"null", b'[{"event_type": "a"}]', b'"events"'],
    ids=["null", "array", "string"],
)
def test_json_body_that_is_not_an_object_is_400(client, session_id, post_raw, body):
    response = post_raw(body)
    assert_rejected(client, session_id, response, contains="JSON object")


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
    assert_rejected(client, session_id, response, contains="beyond the range of a double")


DEPTH = 100_000


@pytest.mark.parametrize(
    "nested",
    [b"[" * DEPTH + b"]" * DEPTH, b'{"k":' * DEPTH + b"1" + b"}" * DEPTH],
    ids=["arrays", "objects"],
)
def test_100000_nested_arrays_or_objects_are_400(client, session_id, post_raw, nested):
    response = post_raw(event_body(nested))
    assert_rejected(client, session_id, response, contains="more than 512 levels deep")


# --- JSON that breaks the contract ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, "at least 1 item"), (1001, "at most 1000 items")],
    ids=["empty_batch", "1001_events"],
)
def test_batch_of_the_wrong_size_is_400(client, session_id, size, expected):
    response = post_events(client, session_id, [{"event_type": "a"}] * size)
    detail = assert_rejected(client, session_id, response, contains=expected)
    assert detail.startswith("events ")


def test_1000_events_are_accepted(client, session_id):
    response = post_events(client, session_id, [{"event_type": "a"}] * 1000)
    assert response.status_code == 201, response.text
    assert [e["seq"] for e in response.json()["items"]] == list(range(2, 1002))
    assert event_count(client, session_id) == 1001


def test_missing_events_field_is_400(client, session_id, post_raw):
    response = post_raw(b"{}")
    assert_rejected(client, session_id, response, contains="'events'")


@pytest.mark.parametrize(
    ("event", "expected", "prefix"),
    [
        pytest.param({"message": "no type"}, "'event_type'", "events[0] ", id="missing_event_type"),
        pytest.param(
            {"event_type": "a", "message": "a\u0000b"},
            "",
            "events[0].message ",
            id="message_containing_nul",
        ),
        pytest.param(
            {"event_type": "a", "step_id": "not-a-uuid"},
            "not-a-uuid",
            "events[0].step_id must be a UUID",
            id="wrong_type_of_first_event",
        ),
        pytest.param(
            {"event_type": "a", "colour": "red"}, "'colour'", "events[0] ", id="unknown_field"
        ),
    ],
)
def test_bad_single_event_is_400_naming_index_zero(client, session_id, event, expected, prefix):
    response = post_events(client, session_id, [event])
    detail = assert_rejected(client, session_id, response, contains=expected)
    assert detail.startswith(prefix), detail


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


def test_unknown_top_level_field_is_400(client, session_id):
    body = {"events": [{"event_type": "a"}], "extra": True}
    response = client.post(events_url(session_id), json=body, headers=WRITE)
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
    problem = assert_sentence_problem(response, 413, "Payload Too Large")
    assert problem["detail"] == (
        f"The request body is larger than {LIMIT} bytes; send fewer or smaller events per batch."
    )


def test_body_over_limit_with_content_length_is_413(small_limit_client):
    client = small_limit_client
    session_id = new_session_with_event(client)
    response = post_body(client, session_id, batch_of_size(LIMIT + 1))
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    assert_too_large(response)
    assert event_count(client, session_id) == 1


def test_chunked_body_over_limit_is_413(small_limit_client):
    client = small_limit_client
    session_id = new_session_with_event(client)
    response = post_body(client, session_id, chunks(batch_of_size(LIMIT + 1)))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response)
    assert event_count(client, session_id) == 1


def test_body_at_the_limit_is_accepted(small_limit_client):
    client = small_limit_client
    session_id = new_session_with_event(client)
    response = post_body(client, session_id, batch_of_size(LIMIT))
    assert response.status_code == 201, response.text
    assert event_count(client, session_id) == 2


def test_chunked_body_under_limit_is_accepted(small_limit_client):
    client = small_limit_client
    session_id = new_session_with_event(client)
    body = batch_of_size(LIMIT - 48)
    response = post_body(client, session_id, chunks(body))
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    [event] = response.json()["items"]
    assert (event["seq"], event["message"]) == (2, json.loads(body)["events"][0]["message"])
    assert event_count(client, session_id) == 2


def test_chunked_body_under_default_limit_is_accepted(client, session_id, post_raw):
    body = json.dumps({"events": [{"event_type": "a", "message": "z" * 10_000}]}).encode()
    response = post_raw(chunks(body, 1000))
    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["message"] == "z" * 10_000
    assert event_count(client, session_id) == 2


def test_chunked_malformed_body_is_400(client, session_id, post_raw):
    response = post_raw(chunks(b'{"events": [{"event_type": "a"}', 5))
    assert_rejected(client, session_id, response, contains="not valid JSON")


# --- answers outside the contract's operations, and bodies that are not there -----------------


def test_an_empty_chunked_body_is_no_body(client, session_id, post_raw):
    response = post_raw(iter([b""]))
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_rejected(client, session_id, response, contains="needs a JSON request body")


def test_an_empty_content_type_is_a_415_saying_which_to_send(client, session_id, post_raw):
    response = post_raw(b'{"events": [{"event_type": "a"}]}', headers={**WRITE, "Content-Type": ""})
    detail = assert_sentence_problem(response, 415, "Unsupported Media Type")["detail"]
    assert "send it with Content-Type: application/json" in detail


def test_a_path_that_names_no_operation_is_a_404_saying_where_they_are(client):
    response = client.get("/api/v2/sesions", headers=READ)
    detail = assert_sentence_problem(response, 404, "Not Found")["detail"]
    assert detail == (
        "Nothing is at /api/v2/sesions; the API's operations are under /api/v2/ "
        "(listed at /api/v2/ui/)."
    )


def test_a_write_to_the_spec_document_is_a_405_naming_get(client):
    response = client.post("/api/v2/openapi.json", headers=WRITE)
    problem = assert_sentence_problem(response, 405, "Method Not Allowed")
    assert problem["detail"] == "POST is not allowed here; use GET, HEAD."
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "method, path, status, detail",
    [
        (
            "GET",
            "/viewer/nothing.js",
            404,
            "The viewer has no file /viewer/nothing.js; open /viewer/.",
        ),
        ("POST", "/viewer/index.html", 405, "POST is not allowed here; use GET, HEAD."),
    ],
)
def test_the_viewers_refusals_are_problems(client, method, path, status, detail):
    response = client.request(method, path)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found" if status == 404 else "Method Not Allowed",
        "status": status,
        "detail": detail,
    }
