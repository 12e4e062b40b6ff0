"""The events listing's `step_id` and `q` filters on both backends: the events, totals and
has_next they give, the links that repeat them, the ETag that covers them, their 400s."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import READ
from tests.integration.api.api_helpers import (
    append_events,
    assert_bad_request,
    events_url,
    new_session,
)

STEP_A = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"
STEP_B = "2b3c4d5e-6f70-4b1c-9d0e-1f2a3b4c5d6e"
MESSAGES = ["Compile ERROR in Foo", "50% of tests_run", None, "ok"]


@pytest.fixture
def session_of_24(client) -> tuple[str, list[dict]]:
    """24 events: steps A, B, none in turn; the MESSAGES in turn; types a, b."""
    session_id = new_session(client)
    batch = [
        {
            "event_type": "ab"[n % 2],
            "step_id": [STEP_A, STEP_B, None][n % 3],
            "message": MESSAGES[n % 4],
        }
        for n in range(24)
    ]
    return session_id, append_events(client, session_id, batch)


def next_link(response) -> str | None:
    found = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return found.group(1) if found else None


def walk(client, url: str) -> tuple[list[int], list[dict]]:
    """Every page by rel="next": the seqs and each page's query as its next link gave it."""
    seqs, queries = [], []
    while url:
        response = client.get(url, headers=READ)
        assert response.status_code == 200, response.text
        body = response.json()
        seqs += [event["seq"] for event in body["items"]]
        assert body["pagination"]["has_next"] == (next_link(response) is not None)
        url = next_link(response)
        if url:
            queries.append(parse_qs(urlsplit(url).query))
    return seqs, queries


@pytest.mark.parametrize(
    ("query", "keeps"),
    [
        ({"step_id": STEP_A}, lambda e: e["step_id"] == STEP_A),
        ({"step_id": STEP_A.upper()}, lambda e: e["step_id"] == STEP_A),
        ({"q": "error"}, lambda e: e["message"] == MESSAGES[0]),
        ({"q": "%"}, lambda e: e["message"] == MESSAGES[1]),
        ({"q": "S_R"}, lambda e: e["message"] == MESSAGES[1]),
        ({"q": "_"}, lambda e: e["message"] == MESSAGES[1]),
        ({"step_id": STEP_B, "q": "O"}, lambda e: e["step_id"] == STEP_B and e["message"]),
        (
            {"step_id": STEP_A, "event_type": "a", "q": "compile"},
            lambda e: e["step_id"] == STEP_A and e["event_type"] == "a" and "ERROR" in e["message"],
        ),
    ],
)
@pytest.mark.parametrize("counted", ["true", "false"])
def test_the_filters_select_and_their_links_repeat_them(
    client, session_of_24, query, keeps, counted
):
    session_id, documents = session_of_24
    want = [e["seq"] for e in reversed(documents) if e["message"] is not None or "q" not in query]
    want = [seq for seq in want if keeps(documents[seq - 1])]
    assert want
    url = events_url(session_id, urlencode({**query, "per_page": 2, "include_total": counted}))
    first = client.get(url, headers=READ).json()
    assert first["pagination"]["total"] == (len(want) if counted == "true" else None)
    seqs, queries = walk(client, url)
    assert seqs == want
    for linked in queries:
        assert {name: linked[name] for name in query} == {k: [v] for k, v in query.items()}
        assert linked["until_seq"] == ["24"]


def test_the_etag_covers_step_id_and_q(client, session_of_24):
    session_id, _ = session_of_24
    tags = {}
    for query in [
        {},
        {"step_id": STEP_A},
        {"step_id": STEP_B},
        {"q": "error"},
        {"q": "ok"},
        {"step_id": STEP_A, "q": "error"},
    ]:
        url = events_url(session_id, urlencode(query))
        tag = client.get(url, headers=READ).headers["ETag"]
        assert client.get(url, headers={**READ, "If-None-Match": tag}).status_code == 304
        tags[tag] = query
    assert len(tags) == 6


def test_an_append_of_another_step_changes_the_etag(client, session_of_24):
    """The body's latest_seq moves with every append, so its tag does too."""
    session_id, _ = session_of_24
    url = events_url(session_id, urlencode({"step_id": STEP_A}))
    tag = client.get(url, headers=READ).headers["ETag"]
    append_events(client, session_id, [{"event_type": "a", "step_id": STEP_B}])
    assert client.get(url, headers={**READ, "If-None-Match": tag}).status_code == 200


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("step_id=not-a-uuid", "step_id"),
        ("step_id=", "step_id"),
        ("q=", "q"),
        (urlencode({"q": "x" * 201}), "q"),
    ],
)
def test_bad_values_are_400_naming_the_filter(client, session_of_24, query, named):
    session_id, _ = session_of_24
    response = client.get(events_url(session_id, query), headers=READ)
    assert_bad_request(response, named)


def test_a_step_id_that_is_not_a_uuid_is_said_so(client, session_of_24):
    session_id, _ = session_of_24
    response = client.get(events_url(session_id, "step_id=nope"), headers=READ)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        'step_id must be a UUID, such as 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b (got "nope").'
    )
