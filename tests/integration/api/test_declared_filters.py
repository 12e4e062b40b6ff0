"""Filters are declared once (db/filters.py) and everything else is derived from the declarations.

A throwaway filter is added here the way a new one would be: its parameter in the contract, one
declaration and its SQL, nothing else. With every other filter, order and page size, through
both ways to the handlers (the fast route and Connexion's stack), its listings must have the
right events, totals, has_next and links (walking rel="next" must stay within it), the ETag must
cover it, and the stream must apply it. Before the declarations, each of these was a place to
remember: a filter that skips seqs left out of `gap_free` served arithmetic totals and seq-bound
pages, the per-type counts answered the whole session's total under any other filter, and links
dropped what they did not list.
"""

from __future__ import annotations

import inspect
import itertools
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from connexion.exceptions import BadRequestProblem

from session_events import app as app_module
from session_events.db import filters as db_filters
from session_events.db.tables import events
from session_events.handlers import events as events_handlers
from session_events.handlers import stream as stream_handlers
from session_events.handlers.listing import read_filters
from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import (
    SESSIONS,
    append_events,
    both_ways,
    new_session,
    query_parameters,
)

LISTING = "/sessions/{session_id}/events"
STREAM = "/sessions/{session_id}/events/stream"

# The throwaway filter: events whose message is the one given. It skips seqs.
MESSAGE = db_filters.Filter(
    "message", lambda c, text: events.c.message == text, events.c.message.type
)
UNSTABLE = {"x-request-id", "date"}


def handler_arguments(handler) -> set[str]:
    return {
        name
        for name, parameter in inspect.signature(handler).parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    }


@pytest.mark.parametrize(
    ("path", "handler"),
    [(LISTING, events_handlers.list_events), (STREAM, stream_handlers.stream_events)],
)
def test_every_query_parameter_is_an_argument_or_a_declared_filter(path, handler):
    """The handlers take the filters as keyword arguments: a parameter the contract adds and no
    declaration names would be ignored, so none may be."""
    declared = {f.parameter for f in db_filters.FILTERS}
    for name in query_parameters(path):
        assert (name in handler_arguments(handler)) != (name in declared), name


def test_every_declared_filter_is_a_parameter_of_the_listing():
    assert {f.parameter for f in db_filters.FILTERS} <= set(query_parameters(LISTING))


def test_a_value_a_filter_cannot_read_is_a_400_that_names_it():
    """The contract's date-time format lets through what parse_timestamp may still refuse."""
    with pytest.raises(BadRequestProblem) as refused:
        read_filters({"since": "2026-02-30T00:00:00Z"})
    assert refused.value.detail == (
        "since: 2026-02-30T00:00:00Z is not a date-time this service can read."
    )


def with_message(contract: dict) -> dict:
    """The contract, its listing and stream taking `message` as a filter."""
    contract["components"]["parameters"]["Message"] = {
        "name": "message",
        "in": "query",
        "required": False,
        "description": "Only events with this message.",
        "schema": {"type": "string", "maxLength": 20},
    }
    for path in (LISTING, STREAM):
        parameters = contract["paths"][path]["get"]["parameters"]
        parameters.append({"$ref": "#/components/parameters/Message"})
    return contract


@pytest.fixture
def clients(settings, monkeypatch):
    """The app with the throwaway filter, both ways: fast route, then Connexion's stack."""
    load_contract = app_module.load_contract
    monkeypatch.setattr(app_module, "load_contract", lambda s: with_message(load_contract(s)))
    monkeypatch.setattr(db_filters, "FILTERS", (*db_filters.FILTERS, MESSAGE))
    with both_ways(settings) as started:
        yield started


@pytest.fixture
def stored(clients):
    """30 events: types a, b, c, a, b, ...; every third one's message is "x"."""
    fast = clients[0]
    session_id = new_session(fast)
    batch = [
        {"event_type": "abcab"[n % 5], "message": "x" if n % 3 == 0 else "y"} for n in range(30)
    ]
    return session_id, append_events(fast, session_id, batch)


def get(test_client, url: str, headers: dict | None = None):
    """The response, and what must be the same both ways: status, headers but those that
    differ between any two answers, body."""
    response = test_client.get(url, headers={**READ, **(headers or {})})
    kept = sorted((k, v) for k, v in response.headers.items() if k not in UNSTABLE)
    return response, (response.status_code, kept, response.content)


def expected(documents, types, message, since_seq, after_seq, until_seq, ascending) -> list[int]:
    upper = len(documents) if until_seq is None else until_seq
    seqs = [
        d["seq"]
        for d in documents
        if max(since_seq, after_seq) < d["seq"] <= upper
        and (not types or d["event_type"] in types)
        and d["message"] == message
    ]
    return seqs if ascending else seqs[::-1]


def next_link(response) -> str | None:
    found = re.search(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
    return found.group(1) if found else None


def test_a_declared_filter_is_served_with_every_other(clients, stored):
    session_id, documents = stored
    since = documents[11]["timestamp"]  # seq 12
    checked = 0
    for types, since_seq, after_seq, until_seq, order, counted, message in itertools.product(
        [(), ("a",), ("a", "c")], [0, 12], [0, 7], [None, 20], ["asc", "desc"], [True, False], "x"
    ):
        query = {"per_page": 2, "message": message, "order": order}
        query |= {"event_type": list(types), "after_seq": after_seq, "until_seq": until_seq}
        query |= {"since": since if since_seq else None, "include_total": str(counted).lower()}
        query = {name: value for name, value in query.items() if value not in (None, [])}
        want = expected(documents, types, message, since_seq, after_seq, until_seq, order == "asc")
        url = f"{SESSIONS}/{session_id}/events?{urlencode(query, doseq=True)}"
        walked, pages = [], 0
        while url:
            response, fast = get(clients[0], url)
            assert fast == get(clients[1], url)[1], url
            assert response.status_code == 200, response.text
            body = response.json()
            walked += [event["seq"] for event in body["items"]]
            assert body["pagination"]["total"] == (len(want) if counted else None), url
            assert body["pagination"]["has_next"] == (len(walked) < len(want)), url
            url = next_link(response)
            if url:
                assert parse_qs(urlsplit(url).query)["message"] == [message]
            pages += 1
        assert walked == want, query
        assert pages == max(1, -(-len(want) // 2))
        checked += 1
    assert checked == 96


def test_the_etag_covers_a_declared_filter(clients, stored):
    session_id, _ = stored
    base = f"{SESSIONS}/{session_id}/events?event_type=a"
    tag = get(clients[0], f"{base}&message=x")[0].headers["etag"]
    assert get(clients[0], f"{base}&message=x", {"If-None-Match": tag})[0].status_code == 304
    assert get(clients[0], f"{base}&message=y", {"If-None-Match": tag})[0].status_code == 200


def test_the_stream_applies_a_declared_filter(clients, stored):
    session_id, documents = stored
    fast = clients[0]
    fast.patch(f"{SESSIONS}/{session_id}", json={"status": "completed"}, headers=WRITE)
    url = f"{SESSIONS}/{session_id}/events/stream?after_seq=4&event_type=a&message=x"
    response, answer = get(fast, url)
    assert answer == get(clients[1], url)[1]
    sent = [int(seq) for seq in re.findall(r"^id: (\d+)$", response.text, re.MULTILINE)]
    want = [d["seq"] for d in documents if d["seq"] > 4 and d["message"] == "x"]
    assert sent == [seq for seq in want if documents[seq - 1]["event_type"] == "a"]
    assert sent
