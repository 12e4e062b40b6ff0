"""The contract's operations answered by session_events/fast_route.py: every answer must be the
one Connexion's whole middleware stack gives, byte for byte, good or bad, on both databases."""

from __future__ import annotations

import dataclasses
import json
import uuid
from urllib.parse import quote

import orjson
import pytest
from connexion.middleware.routing import RoutingMiddleware
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import Response

from session_events.app import create_app
from session_events.handlers.events import Listing
from tests.conftest import READ, READ_KEY, WRITE
from tests.integration.api.api_helpers import (
    SESSIONS,
    append_events,
    new_session,
    query_parameters,
)

# Headers that differ between any two answers.
UNSTABLE = {"x-request-id", "date"}
JSON_WRITE = {**WRITE, "Content-Type": "application/json"}


@pytest.fixture
def stack_client(settings, _running_apps):
    """The same app without the fast route: every request through Connexion's stack."""
    key = ("connexion-stack", settings.database_url)
    if key not in _running_apps:
        test_client = create_app(settings, fast_route=False).test_client()
        test_client.__enter__()
        _running_apps[key] = test_client
    return _running_apps[key]


@pytest.fixture
def session_id(client) -> str:
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": t} for t in ("a", "b", "a", "c")] * 3)
    return session_id


def answer(test_client, method: str, path: str, headers: dict, content: bytes | None = None):
    """Status, headers (but those that differ between any two answers) and body."""
    response = test_client.request(method, path, content=content, headers=headers)
    kept = sorted((k, v) for k, v in response.headers.items() if k not in UNSTABLE)
    return response.status_code, kept, response.content


def assert_same(client, stack_client, path, headers=READ, method="GET", content=None) -> int:
    fast = answer(client, method, path, headers, content)
    assert fast == answer(stack_client, method, path, headers, content), path
    return fast[0]


QUERIES = [
    "",
    "per_page=3",
    "per_page=3&page=2",
    "page=99",
    "page=5616120746315072",
    "order=asc&after_seq=4",
    "after_seq=2&until_seq=9&order=asc&per_page=2",
    "event_type=a",
    "event_type=a&event_type=c",
    "event_type=a,c",
    "event_type=",
    "since=2020-01-01T00:00:00Z",
    "since=2020-01-01T00:00:00%2B02:00",
    "since=yesterday",
    "include_total=false&per_page=2",
    "include_total=False",
    "include_total=0",
    "include_total=maybe",
    "per_page=0",
    "per_page=abc",
    "per_page=",
    "per_page=1&per_page=2",
    "per_page=1_0",
    "per_page=%205",
    "per_page=" + "9" * 5000,
    "page=-1",
    "after_seq=9223372036854775808",
    "until_seq=1&after_seq=5",
    "wait=abc",
    "wait=0",
    "wait=31",
    "unknown=1",
    "per_page=2&unknown=1&other=2",
    "order=sideways",
    "%ZZ=1",
    "event_type=%C3%A9",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_listing_answers_as_connexion_does(client, stack_client, session_id, query):
    assert_same(client, stack_client, f"{SESSIONS}/{session_id}/events?{query}")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"X-API-Key": ""},
        {"x-api-key": READ_KEY},
        {**READ, "Content-Type": "text/plain"},
        {**READ, "If-None-Match": '"nope"'},
        {**READ, "If-None-Match": "*"},
        {**READ, "If-None-Match": "x" * 1025},
    ],
    ids=["no key", "wrong key", "empty key", "lower-case", "content-type", "etag", "star", "long"],
)
def test_keys_and_headers_are_answered_as_connexion_does(client, stack_client, session_id, headers):
    assert_same(client, stack_client, f"{SESSIONS}/{session_id}/events", headers)


def test_an_unchanged_listing_is_a_304_both_ways(client, stack_client, session_id):
    path = f"{SESSIONS}/{session_id}/events?after_seq=12&order=asc"
    tag = client.get(path, headers=READ).headers["etag"]
    assert assert_same(client, stack_client, path, {**READ, "If-None-Match": tag}) == 304


def test_a_long_poll_that_times_out_answers_the_same_both_ways(client, stack_client, session_id):
    path = f"{SESSIONS}/{session_id}/events?after_seq=12&order=asc&wait=1"
    assert assert_same(client, stack_client, path) == 200


def test_a_finished_sessions_stream_is_the_same_both_ways(client, stack_client, session_id):
    """The stream's start (status, headers) and, the session being over, all of it."""
    client.patch(f"{SESSIONS}/{session_id}", json={"status": "completed"}, headers=WRITE)
    path = f"{SESSIONS}/{session_id}/events/stream?after_seq=2&event_type=a"
    assert assert_same(client, stack_client, path) == 200
    for query in ("after_seq=x", "event_type=A"):
        assert assert_same(client, stack_client, f"{path}&{query}") == 400
    headers = {**READ, "Last-Event-ID": "01"}
    assert assert_same(client, stack_client, path, headers) == 400


@pytest.mark.parametrize(
    "breaking",
    [
        lambda body: {**body, "latest_seq": "many"},
        lambda body: {name: value for name, value in body.items() if name != "items"},
        lambda body: None,
    ],
    ids=["wrong type", "field missing", "null"],
)
def test_a_response_the_contract_forbids_is_a_500_both_ways(
    client, stack_client, session_id, caplog, monkeypatch, breaking
):
    """Response validation. The service never builds such a response, so the listing's answer
    is replaced by a broken copy of it: the only stand-ins in this file."""
    shaped = Listing.answer

    def broken(self, page, tag):
        answer = shaped(self, page, tag)
        response = answer.response
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        body = orjson.dumps(breaking(orjson.loads(response.body)))
        return dataclasses.replace(answer, response=Response(body, 200, headers))

    monkeypatch.setattr(Listing, "answer", broken)
    path = f"{SESSIONS}/{session_id}/events"
    assert assert_same(client, stack_client, path) == 500
    # Logged by Connexion's exception middleware, once for each of the two answers.
    refused = [r for r in caplog.records if "does not conform" in r.getMessage()]
    assert len(refused) == 2, caplog.records


def _problem(status: int, title: str, headers: dict) -> Response:
    document = {"type": "about:blank", "title": title, "status": status, "detail": "Stand-in."}
    return Response(orjson.dumps(document), status, headers, "application/problem+json")


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (lambda: Response(b"[]", 200, media_type="text/plain"), 500),
        (lambda: Response(b"[]", 200, headers={"Cache-Control": "no-cache"}), 500),
        (lambda: _problem(503, "Service Unavailable", {}), 500),
        (lambda: _problem(503, "Service Unavailable", {"Retry-After": "1"}), 503),
        (lambda: Response(b"{", 200, media_type="application/json"), 500),
    ],
    ids=[
        "media type not produced",
        "headers missing",
        "required header missing",
        "required header sent",
        "not JSON",
    ],
)
def test_the_start_of_a_response_is_checked_both_ways(
    client, stack_client, session_id, monkeypatch, response, status
):
    """The media type must be one the operation produces, and headers the contract requires
    must be there. The listing's response is replaced (a stand-in): the service sends neither
    mistake. Twice, so that the second answer goes through what the first one remembered."""
    shaped = Listing.answer
    monkeypatch.setattr(
        Listing,
        "answer",
        lambda self, page, tag: dataclasses.replace(shaped(self, page, tag), response=response()),
    )
    path = f"{SESSIONS}/{session_id}/events"
    assert [assert_same(client, stack_client, path) for _ in range(2)] == [status, status]


@pytest.mark.parametrize(
    "path",
    [
        "{sessions}/{id}",
        "{sessions}",
        "{sessions}?status=running&per_page=1",
        "{sessions}?status=sleeping",
        "{sessions}?page=0",
        "{sessions}/not-a-uuid",
        "{sessions}/00000000-0000-4000-8000-000000000000",
        "{sessions}/00000000-0000-4000-8000-000000000000/events",
        "{sessions}/00000000-0000-4000-8000-000000000000/events/stream",
        "{sessions}/not-a-uuid/events",
        "{sessions}/{id}/events/",
        "{sessions}/{id}/events/extra",
        "{sessions}//events",
        "/api/v2/nowhere",
    ],
)
def test_the_other_gets_answer_as_connexion_does(client, stack_client, session_id, path):
    assert_same(client, stack_client, path.format(sessions=SESSIONS, id=session_id))


# The listing's parameters as the contract has them, but `wait`, whose requests would be held.
PARAMETERS = [name for name in query_parameters("/sessions/{session_id}/events") if name != "wait"]
VALUES = st.one_of(
    st.integers(min_value=-5, max_value=2**64).map(str),
    st.sampled_from(["a", "b", "asc", "desc", "true", "false", "", "2026-01-01T00:00:00Z"]),
    st.text(max_size=8),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(pairs=st.lists(st.tuples(st.sampled_from([*PARAMETERS, "x"]), VALUES)))
def test_any_query_is_answered_as_connexion_does(client, stack_client, session_id, pairs):
    query = "&".join(f"{quote(name)}={quote(value)}" for name, value in pairs)
    assert_same(client, stack_client, f"{SESSIONS}/{session_id}/events?{query}")


def test_the_contract_operations_skip_connexions_routing(client, session_id, monkeypatch):
    """Observed, not mocked: Connexion's router still runs, and is counted."""
    routed = []
    original = RoutingMiddleware.__call__

    async def counting(self, scope, receive, send):
        routed.append(scope["method"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(RoutingMiddleware, "__call__", counting)
    assert client.get(f"{SESSIONS}/{session_id}/events", headers=READ).status_code == 200
    assert client.get(f"{SESSIONS}/{session_id}", headers=READ).status_code == 200
    assert client.get(SESSIONS, headers=READ).status_code == 200
    append_events(client, session_id, [{"event_type": "a"}])
    assert client.delete(f"{SESSIONS}/{session_id}", headers=WRITE).status_code == 204
    assert routed == []
    # What the contract does not name goes down Connexion's stack: here a 405.
    assert client.put(f"{SESSIONS}/{session_id}/events", headers=WRITE).status_code == 405
    assert routed == ["PUT"]


def batch(*events: dict) -> bytes:
    return json.dumps({"events": list(events)}).encode()


REFUSED_WRITES = [
    ("POST", "{events}", b'{"events": []}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "BAD"}]}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "auth_expired"}]}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "a", "extra": 1}]}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": 5}]}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "a"}]', JSON_WRITE),
    ("POST", "{events}", b"not json", JSON_WRITE),
    ("POST", "{events}", b"null", JSON_WRITE),
    ("POST", "{events}", b"", JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "a"}]}', WRITE),
    ("POST", "{events}", b"", WRITE),
    ("POST", "{events}", batch(*[{"event_type": "a"}] * 1001), JSON_WRITE),
    (
        "POST",
        "{events}",
        b'{"events": [{"event_type": "a", "event_data": {"n": 1e400}}]}',
        JSON_WRITE,
    ),
    ("POST", "{events}", batch({"event_type": "a", "event_data": {"n": 10**400}}), JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "a", "message": NaN}]}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "a", "message": "\\ud800"}]}', JSON_WRITE),
    ("POST", "{events}", b'{"events": [{"event_type": "\xff"}]}', JSON_WRITE),
    ("POST", "{events}", b"[" * 100_000, JSON_WRITE),
    ("POST", "{events}?x=1", b'{"events": [{"event_type": "a"}]}', JSON_WRITE),
    ("POST", "{events}?x=1", b"{}", {**WRITE, "Content-Type": "text/plain"}),
    ("POST", "{unknown}/events", b'{"events": [{"event_type": "a"}]}', JSON_WRITE),
    ("POST", "{sessions}", b'{"session_type": "Not Valid"}', JSON_WRITE),
    ("POST", "{sessions}", b'{"id": "nope", "session_type": "x"}', JSON_WRITE),
    ("POST", "{sessions}", b'{"session_type": "x", "config": {"n": -1e999}}', JSON_WRITE),
    ("POST", "{sessions}", b"[]", JSON_WRITE),
    ("POST", "{sessions}", b'{"session_type": "x"}', WRITE),
    ("PATCH", "{session}", b'{"status": "sleeping"}', JSON_WRITE),
    ("PATCH", "{session}", b"{}", JSON_WRITE),
    ("PATCH", "{session}", b'{"status": "paused"}', JSON_WRITE),
    ("PATCH", "{unknown}", b'{"status": "failed"}', JSON_WRITE),
    ("DELETE", "{sessions}/not-a-uuid", None, WRITE),
    ("DELETE", "{unknown}", None, WRITE),
    ("DELETE", "{session}", None, READ),
    ("DELETE", "{session}", None, {}),
    ("DELETE", "{session}", None, {"X-API-Key": "wrong"}),
]
MEDIA_TYPES = [
    "text/plain",
    "application/xml",
    "application/json-patch+json",
    "",
    "application/json; charset=utf-8",
]


def _path(template: str, session_id: str) -> str:
    return template.format(
        sessions=SESSIONS,
        session=f"{SESSIONS}/{session_id}",
        events=f"{SESSIONS}/{session_id}/events",
        unknown=f"{SESSIONS}/00000000-0000-4000-8000-000000000000",
    )


@pytest.mark.parametrize("method, path, content, headers", REFUSED_WRITES)
def test_a_refused_write_is_answered_as_connexion_does(
    client, stack_client, session_id, method, path, content, headers
):
    path = _path(path, session_id)
    assert 400 <= assert_same(client, stack_client, path, headers, method, content) < 500


@pytest.mark.parametrize("media_type", MEDIA_TYPES)
@pytest.mark.parametrize("path", ["{events}", "{sessions}", "{session}"])
def test_content_types_are_answered_as_connexion_does(
    client, stack_client, session_id, media_type, path
):
    content = {
        "{events}": b'{"events": [{"event_type": "BAD"}]}',
        "{sessions}": b'{"session_type": "BAD"}',
        "{session}": b'{"status": "sleeping"}',
    }[path]
    headers = {**WRITE, "Content-Type": media_type}
    method = "PATCH" if path == "{session}" else "POST"
    assert assert_same(client, stack_client, _path(path, session_id), headers, method, content) in (
        400,
        415,
    )


def test_conflicts_are_answered_as_connexion_does(client, stack_client, session_id):
    event_id = str(uuid.uuid4())
    append_events(client, session_id, [{"id": event_id, "event_type": "a"}])
    other = new_session(client)
    conflicts = [
        ("POST", SESSIONS, json.dumps({"id": session_id, "session_type": "x"}).encode()),
        ("POST", f"{SESSIONS}/{other}/events", batch({"id": event_id, "event_type": "a"})),
    ]
    client.patch(f"{SESSIONS}/{other}", json={"status": "failed"}, headers=WRITE)
    conflicts.append(("PATCH", f"{SESSIONS}/{other}", b'{"status": "in_progress"}'))
    for method, path, content in conflicts:
        assert assert_same(client, stack_client, path, JSON_WRITE, method, content) == 409


def test_writes_are_answered_as_connexion_does(client, stack_client):
    """The same writes, one way then the other: same statuses, headers and documents but for the
    ids, seqs and times each write makes."""
    answers = []
    for test_client in (client, stack_client):
        session = test_client.post(SESSIONS, json={"session_type": "x"}, headers=WRITE)
        events = f"{SESSIONS}/{session.json()['id']}/events"
        appended = test_client.post(events, json={"events": [{"event_type": "a"}]}, headers=WRITE)
        moved = test_client.patch(
            f"{SESSIONS}/{session.json()['id']}", json={"status": "failed"}, headers=WRITE
        )
        gone = test_client.delete(f"{SESSIONS}/{session.json()['id']}", headers=WRITE)
        answers.append(
            [
                (r.status_code, sorted(k for k in r.headers if k not in UNSTABLE), shape(r))
                for r in (session, appended, moved, gone)
            ]
        )
    assert answers[0] == answers[1]


def shape(response):
    """The response's document with every leaf replaced by its type."""

    def typed(document):
        if isinstance(document, dict):
            return {k: typed(v) for k, v in document.items()}
        if isinstance(document, list):
            return [typed(v) for v in document]
        return type(document).__name__

    return typed(response.json()) if response.content else None


def test_a_body_without_content_type_is_a_415_both_ways(client, stack_client, session_id):
    path = f"{SESSIONS}/{session_id}/events"
    content = b'{"events": [{"event_type": "untyped"}]}'
    assert assert_same(client, stack_client, path, WRITE, "POST", content) == 415
    detail = client.post(path, content=content, headers=WRITE).json()["detail"]
    assert "Content-Type: application/json" in detail
    listed = client.get(f"{path}?event_type=untyped", headers=READ).json()
    assert listed["items"] == []


def test_a_media_type_in_capitals_or_spaced_is_checked_both_ways(client, stack_client, session_id):
    """session_events/whole_request.py spells the Content-Type one way before either path sees
    it: before, Connexion's stack matched APPLICATION/JSON but looked the body schema up
    case-sensitively, validated nothing and failed in its handler (a 500)."""
    path = f"{SESSIONS}/{session_id}/events"
    content = b'{"events": [{"event_type": "BAD"}]}'
    for media_type in ("APPLICATION/JSON", "application/json ;charset=utf-8"):
        headers = {**WRITE, "Content-Type": media_type}
        assert assert_same(client, stack_client, path, headers, "POST", content) == 400
    response = client.post(
        path, content=content, headers={**WRITE, "Content-Type": "APPLICATION/JSON"}
    )
    assert response.json()["detail"].startswith("events[0].event_type must match the pattern")


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "POST", "PUT"])
def test_the_sessions_stream_path_is_not_a_session_id(client, stack_client, method):
    """/sessions/stream is literal: its other methods are 405s naming GET and HEAD, not the
    operations of /sessions/{session_id} on a session called "stream"."""
    path = "/api/v2/sessions/stream"
    assert (
        assert_same(client, stack_client, path, JSON_WRITE, method, b'{"status": "paused"}') == 405
    )
    response = client.request(method, path, headers=JSON_WRITE)
    assert response.headers["allow"] == "GET, HEAD"


def test_a_head_of_the_sessions_stream_is_its_head_alone(client, stack_client):
    path = "/api/v2/sessions/stream?status=pending&session_type=build&session_type=agent"
    assert assert_same(client, stack_client, path, method="HEAD") == 200
    response = client.head(path, headers=READ)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""


def _tokens(client, session_id: str) -> dict[str, str]:
    made = client.post(
        SESSIONS, json={"session_type": "other", "tokens": ["append"]}, headers=WRITE
    ).json()
    minted = {"other": made["tokens"][0]["token"]}
    for scope in ("append", "read"):
        body = {"scope": scope}
        answer = client.post(f"{SESSIONS}/{session_id}/tokens", json=body, headers=WRITE)
        minted[scope] = answer.json()["token"]
    head, body, signature = minted["read"].split(".")
    minted["forged"] = f"{head}.{body}.{signature[::-1]}"
    return minted


AUTHORIZATIONS = [
    ("append", "Bearer {append}"),
    ("read", "Bearer {read}"),
    ("other session", "Bearer {other}"),
    ("forged", "Bearer {forged}"),
    ("lower case", "bearer {read}"),
    ("no token", "Bearer"),
    ("empty", ""),
    ("basic", "Basic dXNlcjpwYXNz"),
    ("not a jwt", "Bearer not-a-token"),
]
# Reads, and writes a token may not carry out or the contract refuses once it is through.
TOKEN_REQUESTS = [
    ("GET", "{events}", None),
    ("GET", "{session}", None),
    ("GET", "{sessions}", None),
    ("GET", "{unknown}/events", None),
    ("POST", "{events}", b'{"events": [{"event_type": "BAD"}]}'),
    ("PATCH", "{session}", b'{"status": "sleeping"}'),
    ("DELETE", "{session}", None),
    ("DELETE", "{session}/tokens", None),
    ("POST", "{session}/tokens", b'{"scope": "append"}'),
]


@pytest.mark.parametrize("authorization", [a for _, a in AUTHORIZATIONS], ids=dict(AUTHORIZATIONS))
def test_tokens_are_answered_as_connexion_does(client, stack_client, session_id, authorization):
    """Both apps share the test settings' token secret, so each takes the other's tokens."""
    minted = _tokens(client, session_id)
    for key in ({}, READ, {"X-API-Key": "wrong"}):
        headers = {**key, "Authorization": authorization.format(**minted)}
        for method, path, content in TOKEN_REQUESTS:
            if content is not None:
                headers = {**headers, "Content-Type": "application/json"}
            assert_same(client, stack_client, _path(path, session_id), headers, method, content)
