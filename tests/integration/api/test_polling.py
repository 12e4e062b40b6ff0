"""Cursors, stable pages and conditional GET on the events listing, on both backends."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import READ
from tests.integration.api.api_helpers import (
    append_events,
    assert_bad_request,
    events_url,
    list_events,
    new_session,
)


def ticks(count: int, event_type: str = "tick") -> list[dict]:
    return [{"event_type": event_type, "event_data": {"n": n}} for n in range(count)]


def seqs(page: dict) -> list[int]:
    return [event["seq"] for event in page["items"]]


def links(response) -> dict[str, str]:
    """rel -> URL of the Link header."""
    return {
        rel: url
        for url, rel in re.findall(r'<([^>]+)>; rel="([a-z]+)"', response.headers.get("Link", ""))
    }


@pytest.fixture
def session_of_30(client) -> str:
    """seq 1..30; types cycle a, b, c (a on 1, 4, 7, ...)."""
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "abc"[n % 3]} for n in range(30)])
    return session_id


def test_after_seq_and_asc_walk_forward_from_a_cursor(client, session_of_30):
    page = list_events(client, session_of_30, "after_seq=10&order=asc&per_page=5")
    assert seqs(page) == [11, 12, 13, 14, 15]
    assert page["pagination"]["total"] == 20
    assert page["latest_seq"] == 30


def test_until_seq_caps_the_range_and_latest_seq_still_reports_the_newest(client, session_of_30):
    page = list_events(client, session_of_30, "until_seq=12&per_page=5")
    assert seqs(page) == [12, 11, 10, 9, 8]
    assert page["pagination"]["total"] == 12
    assert page["latest_seq"] == 30


def test_asc_pages_are_consecutive(client, session_of_30):
    pages = [list_events(client, session_of_30, f"order=asc&per_page=8&page={n}") for n in (1, 4)]
    assert seqs(pages[0]) == list(range(1, 9))
    assert seqs(pages[1]) == [25, 26, 27, 28, 29, 30]


def test_repeated_event_type_matches_any_of_them(client, session_of_30):
    page = list_events(client, session_of_30, "event_type=c&event_type=a&per_page=6")
    assert seqs(page) == [30, 28, 27, 25, 24, 22]
    assert page["pagination"]["total"] == 20
    asc = list_events(client, session_of_30, "event_type=a&event_type=c&order=asc&after_seq=20")
    assert seqs(asc) == [21, 22, 24, 25, 27, 28, 30]


def test_a_single_event_type_behaves_as_before(client, session_of_30):
    page = list_events(client, session_of_30, "event_type=b")
    assert seqs(page) == list(range(29, 1, -3))


def test_a_comma_is_not_a_separator_of_types(client, session_of_30):
    response = client.get(events_url(session_of_30, "event_type=a,b"), headers=READ)
    assert_bad_request(response, "event_type")


def test_latest_seq_is_zero_for_an_empty_session(client):
    assert list_events(client, new_session(client), "after_seq=5&order=asc")["latest_seq"] == 0


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("after_seq=-1", "after_seq"),
        ("after_seq=abc", "after_seq"),
        ("until_seq=-3", "until_seq"),
        ("until_seq=1.5", "until_seq"),
        ("order=up", "order"),
        ("include_total=maybe", "include_total"),
        ("after_seq=10&until_seq=9", "until_seq"),
        ("after_seq=99999999999999999999", "after_seq"),
    ],
)
def test_bad_cursor_parameters_are_400_naming_them(client, session_of_30, query, named):
    response = client.get(events_url(session_of_30, query), headers=READ)
    assert_bad_request(response, named)


def test_until_seq_equal_to_after_seq_is_an_empty_page(client, session_of_30):
    page = list_events(client, session_of_30, "after_seq=10&until_seq=10")
    assert (seqs(page), page["pagination"]["total"]) == ([], 0)


# Stable pages: the Link header


def test_links_carry_the_filters_and_pin_until_seq(client, session_of_30):
    response = client.get(
        events_url(session_of_30, "event_type=a&event_type=b&per_page=4&page=2&after_seq=2"),
        headers=READ,
    )
    rels = links(response)
    assert set(rels) == {"first", "prev", "next", "last"}
    query = parse_qs(urlsplit(rels["next"]).query)
    assert query == {
        "event_type": ["a", "b"],
        "per_page": ["4"],
        "after_seq": ["2"],
        "until_seq": ["30"],
        "page": ["3"],
    }
    assert urlsplit(rels["next"]).path == f"/api/v2/sessions/{session_of_30}/events"
    assert parse_qs(urlsplit(rels["last"]).query)["page"] == ["5"]  # 19 matching, 4 a page
    assert parse_qs(urlsplit(rels["first"]).query)["page"] == ["1"]


def test_the_last_page_has_no_next_and_the_first_no_prev(client, session_of_30):
    first = client.get(events_url(session_of_30, "per_page=30"), headers=READ)
    assert set(links(first)) == {"first", "last"}


def walk_next_links(client, session_id: str, query: str, arriving: int) -> list[int]:
    """Follow rel="next" from the first page, appending `arriving` events after every page."""
    url, walked = events_url(session_id, query), []
    while url:
        response = client.get(url, headers=READ)
        walked += seqs(response.json())
        append_events(client, session_id, ticks(arriving))
        url = links(response).get("next")
    return walked


def test_walking_next_links_while_events_arrive_yields_the_first_snapshot(client):
    session_id = new_session(client)
    for _ in range(5):
        append_events(client, session_id, ticks(100))
    walked = walk_next_links(client, session_id, "per_page=50", arriving=20)  # 10 pages, +200
    assert walked == list(range(500, 0, -1))
    assert list_events(client, session_id)["latest_seq"] == 700


def test_walking_asc_from_a_cursor_while_events_arrive(client):
    session_id = new_session(client)
    append_events(client, session_id, ticks(120))
    walked = walk_next_links(client, session_id, "after_seq=20&order=asc&per_page=25", arriving=7)
    assert walked == list(range(21, 121))


# Conditional GET


def test_an_unchanged_listing_answers_304_without_a_body(client, session_of_30):
    url = events_url(session_of_30, "after_seq=30&order=asc")
    first = client.get(url, headers=READ)
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get(url, headers={**READ, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-cache"


def test_one_append_ends_the_304s(client, session_of_30):
    url = events_url(session_of_30, "after_seq=30&order=asc")
    tag = client.get(url, headers=READ).headers["ETag"]
    append_events(client, session_of_30, ticks(1))
    changed = client.get(url, headers={**READ, "If-None-Match": tag})
    assert changed.status_code == 200
    assert seqs(changed.json()) == [31]
    assert changed.headers["ETag"] != tag


def test_a_different_query_has_a_different_etag(client, session_of_30):
    def tag(query: str) -> str:
        return client.get(events_url(session_of_30, query), headers=READ).headers["ETag"]

    tags = {
        tag(""),
        tag("event_type=a"),
        tag("event_type=b"),
        tag("per_page=10"),
        tag("page=2"),
        tag("order=asc"),
        tag("after_seq=3"),
        tag("until_seq=29"),
        tag("include_total=false"),
    }
    assert len(tags) == 9
    assert tag("") == tag("page=1&per_page=20&order=desc")  # same body, same tag


def test_the_same_listing_of_another_session_has_another_etag(client):
    first, second = new_session(client), new_session(client)
    assert (
        client.get(events_url(first), headers=READ).headers["ETag"]
        != client.get(events_url(second), headers=READ).headers["ETag"]
    )


@pytest.mark.parametrize(
    "header",
    ['"nope", {tag}', "W/{tag}", "*"],
)
def test_if_none_match_lists_weak_tags_and_star(client, session_of_30, header):
    tag = client.get(events_url(session_of_30), headers=READ).headers["ETag"]
    response = client.get(
        events_url(session_of_30), headers={**READ, "If-None-Match": header.format(tag=tag)}
    )
    assert response.status_code == 304


def test_a_stale_etag_gets_the_full_page(client, session_of_30):
    response = client.get(events_url(session_of_30), headers={**READ, "If-None-Match": '"old"'})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 20


def test_304_is_not_given_for_an_unknown_session(client):
    response = client.get(
        events_url("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"), headers={**READ, "If-None-Match": "*"}
    )
    assert response.status_code == 404


# include_total=false


@pytest.mark.parametrize("query", ["per_page=7", "event_type=a&event_type=c&per_page=4&order=asc"])
def test_skipping_the_total_gives_the_same_pages_and_has_next(client, session_of_30, query):
    pages = {}
    for include_total in ("true", "false"):
        pages[include_total] = [
            list_events(client, session_of_30, f"{query}&include_total={include_total}&page={n}")
            for n in range(1, 7)
        ]
    for counted, uncounted in zip(pages["true"], pages["false"], strict=True):
        assert uncounted["items"] == counted["items"]
        assert uncounted["pagination"]["has_next"] == counted["pagination"]["has_next"]
        assert uncounted["pagination"]["has_prev"] == counted["pagination"]["has_prev"]
        assert uncounted["pagination"]["total"] is None
        assert uncounted["pagination"]["total_pages"] is None


def test_without_a_total_there_is_no_last_link(client, session_of_30):
    response = client.get(events_url(session_of_30, "include_total=false&per_page=5"), headers=READ)
    rels = links(response)
    assert set(rels) == {"first", "next"}
    assert parse_qs(urlsplit(rels["next"]).query)["include_total"] == ["false"]


def test_clients_sending_no_new_parameter_get_the_testboost_shape(client, session_of_30):
    page = list_events(client, session_of_30)
    assert set(page) == {"items", "pagination", "latest_seq"}
    assert page["pagination"] == {
        "page": 1,
        "per_page": 20,
        "total": 30,
        "total_pages": 2,
        "has_next": True,
        "has_prev": False,
    }
    assert seqs(page) == list(range(30, 10, -1))


@pytest.mark.parametrize(
    "query",
    [
        "after_seq=9223372036854775807&order=asc&page=2147483647&per_page=100",
        "after_seq=9223372036854775807&until_seq=9223372036854775807&page=2147483647",
        "until_seq=9223372036854775807&page=2147483647&per_page=100",
        "after_seq=9223372036854775806&event_type=a&order=asc&page=2147483647&per_page=100",
    ],
)
def test_the_largest_cursors_and_pages_give_an_empty_page(client, session_of_30, query):
    page = list_events(client, session_of_30, query)
    assert page["items"] == []
    assert page["latest_seq"] == 30
