"""The events export (Accept: application/x-ndjson) on both backends and both ways to the
handlers (the fast route and Connexion's stack): which Accept chooses it, what it sends (the
listing's documents, oldest first, filtered, one snapshot), its headers, and what it refuses
before the stream starts. Large exports and clients that leave are in tests/live/test_export.py."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from session_events import app as app_module
from session_events.handlers import export as export_module
from session_events.http_connection import ClientDone
from session_events.http_protocol import CLIENT_DONE
from tests.asgi import request, running
from tests.conftest import READ
from tests.integration.api.api_helpers import (
    append_events,
    assert_bad_request,
    assert_problem,
    both_ways,
    events_url,
    new_session,
)

NDJSON = {**READ, "Accept": "application/x-ndjson"}
STEP = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def clients(settings):
    """The app both ways: fast route, then Connexion's stack (with its response validation)."""
    with both_ways(settings) as started:
        yield started


@pytest.fixture
def stored(clients) -> tuple[str, list[dict]]:
    """2,500 events (more than two pages of the export's reads): types a, b, c in turn; every
    fifth one of STEP; messages with a line separator, a timeout every seventh."""
    session_id = new_session(clients[0])
    documents = []
    for start in range(0, 2500, 1000):
        batch = [
            {
                "event_type": "abc"[n % 3],
                "step_id": STEP if n % 5 == 0 else None,
                "message": "Compile TIMEOUT" if n % 7 == 0 else f"line\u2028{n}",
                "event_data": {"n": n, "big": 10**30},
            }
            for n in range(start, min(start + 1000, 2500))
        ]
        documents += append_events(clients[0], session_id, batch)
    return session_id, documents


def lines(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.content.endswith(b"\n")
    return [json.loads(line) for line in response.content.split(b"\n")[:-1]]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"event_type": ["a", "c"]},
        {"step_id": STEP},
        {"q": "timeout"},
        {"after_seq": 990, "until_seq": 2010},
        {"since": "2000-01-01T00:00:00Z", "order": "asc"},
        {"event_type": "b", "step_id": STEP, "q": "line", "after_seq": 7},
    ],
)
def test_the_export_is_every_matching_listing_document_oldest_first(clients, stored, query):
    session_id, documents = stored
    url = events_url(session_id, urlencode(query, doseq=True))
    listed = []
    page_url = events_url(session_id, urlencode({**query, "order": "asc", "per_page": 100}, True))
    while page_url:
        page = clients[0].get(page_url, headers=READ)
        listed += page.json()["items"]
        page_url = page.links.get("next", {}).get("url")
    assert listed
    for client in clients:
        response = client.get(url, headers=NDJSON)
        assert lines(response) == listed
        assert response.headers["x-latest-seq"] == "2500"
    if not query:
        assert [event["seq"] for event in listed] == list(range(1, 2501))
        assert listed == documents


def test_a_line_holds_no_line_break_of_any_kind(clients, stored):
    session_id, _ = stored
    body = clients[0].get(events_url(session_id, "q=line"), headers=NDJSON).content
    assert "\u2028".encode() not in body and b"\\u2028" in body
    assert len(body.decode().splitlines()) == body.count(b"\n")


def test_the_export_names_its_file_and_where_it_stops(clients, stored):
    session_id, _ = stored
    response = clients[0].get(events_url(session_id), headers=NDJSON)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="session-{session_id}.ndjson"'
    )
    assert response.headers["cache-control"] == "no-cache"
    tag = response.headers["etag"]
    again = clients[0].get(events_url(session_id), headers={**NDJSON, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    listing_tag = clients[0].get(events_url(session_id), headers=READ).headers["etag"]
    assert listing_tag != tag


def test_an_append_makes_a_new_snapshot(clients, stored):
    session_id, _ = stored
    first = clients[0].get(events_url(session_id, "after_seq=2499"), headers=NDJSON)
    append_events(clients[0], session_id, [{"event_type": "late"}])
    second = clients[0].get(
        events_url(session_id, "after_seq=2499"),
        headers={**NDJSON, "If-None-Match": first.headers["etag"]},
    )
    assert [e["seq"] for e in lines(first)] == [2500]
    assert [e["seq"] for e in lines(second)] == [2500, 2501]
    assert second.headers["x-latest-seq"] == "2501"


def test_an_empty_export_is_an_empty_body(clients):
    session_id = new_session(clients[0])
    for client in clients:
        response = client.get(events_url(session_id), headers=NDJSON)
        assert response.status_code == 200 and response.content == b""
        assert response.headers["x-latest-seq"] == "0"


@pytest.mark.parametrize(
    ("accept", "export"),
    [
        (None, False),
        ("*/*", False),
        ("application/*", False),
        ("application/json", False),
        ("text/html", False),  # nothing it can give: the page, as always
        ("application/x-ndjson", True),
        ("Application/X-NDJSON", True),
        ("application/x-ndjson;q=0", False),
        ("application/json, application/x-ndjson", False),  # a tie keeps the page
        ("application/x-ndjson, application/json;q=0.9", True),
        ("application/x-ndjson;q=0.5, */*;q=0.1", True),
        ("application/json;q=0.5, application/x-ndjson;q=0.4", False),
        ("text/html, application/x-ndjson ; q=0.8", True),
        ("application/x-ndjson;q=nonsense, application/json;q=0.1", False),
    ],
)
def test_the_accept_header_chooses(clients, accept, export):
    session_id = new_session(clients[0])
    append_events(clients[0], session_id, [{"event_type": "a"}])
    headers = dict(READ) if accept is None else {**READ, "Accept": accept}
    for client in clients:
        response = client.get(events_url(session_id), headers=headers)
        assert response.status_code == 200
        wanted = "application/x-ndjson" if export else "application/json"
        assert response.headers["content-type"] == wanted
        assert response.headers["vary"] == "Accept"  # a cache keys the two answers apart
        again = client.get(
            events_url(session_id), headers={**headers, "If-None-Match": response.headers["etag"]}
        )
        assert (again.status_code, again.headers["vary"]) == (304, "Accept")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("page=1", "page"),
        ("per_page=100", "per_page"),
        ("include_total=false", "include_total"),
        ("wait=5", "wait"),
        ("order=desc", "order=desc"),
    ],
)
def test_paging_and_waiting_are_refused_before_the_stream(clients, stored, query, named):
    session_id, _ = stored
    for client in clients:
        response = client.get(events_url(session_id, query), headers=NDJSON)
        problem = assert_bad_request(response, named)
        assert problem["detail"].startswith(f"{named} does not apply to an export")


def test_errors_come_before_the_stream(clients, stored):
    session_id, _ = stored
    for client in clients:
        missing = client.get(events_url("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"), headers=NDJSON)
        assert_problem(missing, 404, "Not Found")
        no_key = client.get(events_url(session_id), headers={"Accept": "application/x-ndjson"})
        assert no_key.status_code == 401
        assert no_key.headers["content-type"] == "application/problem+json"
        bad = client.get(events_url(session_id, "until_seq=3&after_seq=5"), headers=NDJSON)
        assert_bad_request(bad, "until_seq")
        bad = client.get(events_url(session_id, "step_id=nope"), headers=NDJSON)
        assert_bad_request(bad, "step_id")


async def export_messages(settings, fast_route: bool, session_id: str, extensions=None):
    """The ASGI messages the app sends for an export, driven directly (as a server would)."""
    app = app_module.create_app(settings, fast_route=fast_route)
    async with running(app) as state:
        return await request(
            app,
            state,
            "GET",
            events_url(session_id),
            headers=[(b"accept", b"application/x-ndjson")],
            extensions=extensions,
        )


@pytest.mark.parametrize("failure", ["outage", "deleted", "bug"])
@pytest.mark.parametrize("fast_route", [True, False])
async def test_a_failure_mid_export_ends_the_body_without_its_last_message(
    settings, stored, monkeypatch, failure, fast_route
):
    """The first page is sent; then the read fails: the response never completes (the server
    closes the connection, so the client sees a body cut short), after whole lines only."""
    session_id, documents = stored
    read_page = export_module.db_pages.read_page
    reads = []

    async def failing(runner, query):
        reads.append(query)
        if len(reads) == 1:
            return await read_page(runner, query)
        if failure == "outage":
            raise OSError("the database went away")
        if failure == "deleted":
            return None
        raise RuntimeError("a bug")

    monkeypatch.setattr(export_module.db_pages, "read_page", failing)
    sent = await export_messages(settings, fast_route, session_id)
    assert sent[0]["status"] == 200
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies and all(m.get("more_body") for m in bodies)  # never the last message
    body = b"".join(m.get("body", b"") for m in bodies)
    assert [json.loads(line) for line in body.splitlines()] == documents[:1000]


async def test_an_export_whose_client_has_left_reads_no_further(settings, stored, monkeypatch):
    session_id, _ = stored
    read_page = export_module.db_pages.read_page
    done = ClientDone()
    reads = []

    async def counted(runner, query):
        reads.append(query)
        done.set()  # the client leaves while the first page is read
        return await read_page(runner, query)

    monkeypatch.setattr(export_module.db_pages, "read_page", counted)
    sent = await export_messages(settings, True, session_id, {CLIENT_DONE: {"event": done}})
    assert len(reads) == 1
    assert [m["type"] for m in sent] == ["http.response.start"]


def test_a_head_of_an_export_reads_no_events(clients, stored, monkeypatch):
    session_id, _ = stored
    reads = []

    async def counted(runner, query):
        reads.append(query)

    monkeypatch.setattr(export_module.db_pages, "read_page", counted)
    for client in clients:
        response = client.head(events_url(session_id), headers=NDJSON)
        assert response.status_code == 200
        assert response.headers["x-latest-seq"] == "2500"
    assert reads == []
