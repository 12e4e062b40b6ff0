"""handlers/shapes.py: pagination, JSON responses and the contract's shapes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import orjson
import pytest

from session_events.db.documents import format_timestamp, parse_timestamp
from session_events.handlers.listing import link_header
from session_events.handlers.shapes import json_response, pagination, session_json

SESSION_ID = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# format_timestamp


def test_format_has_six_fractional_digits_and_z():
    assert format_timestamp(utc(2026, 1, 13, 14, 30, 0, 123456)) == "2026-01-13T14:30:00.123456Z"


def test_format_pads_small_fractions():
    assert format_timestamp(utc(2026, 1, 13, 14, 30, 0, 1)) == "2026-01-13T14:30:00.000001Z"


def test_format_prints_zero_microseconds():
    assert format_timestamp(utc(2026, 1, 13, 14, 30)) == "2026-01-13T14:30:00.000000Z"


def test_format_converts_a_positive_offset_to_utc():
    value = datetime(2026, 1, 13, 16, 30, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(value) == "2026-01-13T14:30:00.000005Z"


def test_format_converts_a_negative_offset_across_midnight():
    value = datetime(2026, 1, 13, 21, 0, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    assert format_timestamp(value) == "2026-01-14T02:30:00.000000Z"


def test_format_pads_early_years_to_four_digits():
    assert format_timestamp(utc(1, 1, 1)) == "0001-01-01T00:00:00.000000Z"


# ---------------------------------------------------------------------------------------------
# parse_timestamp


def test_parse_z():
    assert parse_timestamp("2026-01-13T14:30:00.123456Z") == utc(2026, 1, 13, 14, 30, 0, 123456)


def test_parse_result_is_aware_utc():
    assert parse_timestamp("2026-01-13T14:30:00Z").tzinfo is UTC


def test_parse_lowercase_z_and_t():
    assert parse_timestamp("2026-01-13t14:30:00.5z") == utc(2026, 1, 13, 14, 30, 0, 500000)


def test_parse_positive_offset_converts_to_utc():
    assert parse_timestamp("2026-01-13T16:30:00+02:00") == utc(2026, 1, 13, 14, 30)


def test_parse_negative_offset_converts_to_utc():
    assert parse_timestamp("2026-01-13T21:00:00-05:30") == utc(2026, 1, 14, 2, 30)


def test_parse_zero_offset():
    assert parse_timestamp("2026-01-13T14:30:00-00:00") == utc(2026, 1, 13, 14, 30)


def test_parse_without_fraction_is_zero_microseconds():
    assert parse_timestamp("2026-01-13T14:30:00Z") == utc(2026, 1, 13, 14, 30)


def test_parse_pads_short_fractions():
    assert parse_timestamp("2026-01-13T14:30:00.12Z") == utc(2026, 1, 13, 14, 30, 0, 120000)


def test_parse_truncates_long_fractions_without_rounding():
    assert parse_timestamp("2026-01-13T14:30:00.1234569Z") == utc(2026, 1, 13, 14, 30, 0, 123456)


def test_parse_truncates_nines_without_carrying_into_the_second():
    got = parse_timestamp("2026-01-13T14:30:00.999999999Z")
    assert got == utc(2026, 1, 13, 14, 30, 0, 999999)


def test_parse_leap_second_is_the_last_microsecond_of_the_minute():
    assert parse_timestamp("2016-12-31T23:59:60Z") == utc(2016, 12, 31, 23, 59, 59, 999999)


def test_parse_leap_second_ignores_its_fraction():
    assert parse_timestamp("2016-12-31T23:59:60.5Z") == utc(2016, 12, 31, 23, 59, 59, 999999)


def test_parse_year_zero_clamps_to_year_one():
    assert parse_timestamp("0000-01-01T00:00:00Z") == utc(1, 1, 1)


def test_parse_year_zero_late_in_the_year_with_offset_is_the_real_instant():
    # 0000-12-31T23:00-05:00 is 0001-01-01T04:00Z, an instant datetime can hold.
    assert parse_timestamp("0000-12-31T23:00:00-05:00") == utc(1, 1, 1, 4)


def test_parse_year_zero_leap_day_does_not_raise():
    # Year 0 is a leap year (divisible by 400) and the contract's date-time format accepts it;
    # the instant is before datetime's range, so it clamps to datetime.min.
    assert parse_timestamp("0000-02-29T00:00:00Z") == datetime.min.replace(tzinfo=UTC)


def test_parse_overflow_past_the_end_clamps_to_datetime_max():
    got = parse_timestamp("9999-12-31T23:59:59-23:59")
    assert got == datetime.max.replace(tzinfo=UTC)


def test_parse_overflow_before_the_start_clamps_to_datetime_min():
    got = parse_timestamp("0001-01-01T00:00:00+23:59")
    assert got == datetime.min.replace(tzinfo=UTC)


def test_parse_last_representable_instant():
    assert parse_timestamp("9999-12-31T23:59:59.999999Z") == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        utc(2026, 1, 13, 14, 30, 0, 123456),
        utc(2026, 1, 13, 14, 30),
        utc(1, 1, 1),
        datetime.max.replace(tzinfo=UTC),
        utc(2024, 2, 29, 23, 59, 59, 1),
    ],
)
def test_parse_of_format_is_the_same_instant(value):
    assert parse_timestamp(format_timestamp(value)) == value


def test_format_of_parse_is_the_same_text():
    text = "2026-01-13T14:30:00.000001Z"
    assert format_timestamp(parse_timestamp(text)) == text


# ---------------------------------------------------------------------------------------------
# pagination


def test_pagination_first_of_three_pages():
    assert pagination(1, 20, 45) == {
        "page": 1,
        "per_page": 20,
        "total": 45,
        "total_pages": 3,
        "has_next": True,
        "has_prev": False,
    }


@pytest.mark.parametrize(
    ("page", "has_next", "has_prev"),
    [(1, True, False), (2, True, True), (3, False, True), (4, False, True)],
)
def test_pagination_flags_of_45_items_by_20(page, has_next, has_prev):
    result = pagination(page, 20, 45)
    assert (result["total_pages"], result["has_next"], result["has_prev"]) == (
        3,
        has_next,
        has_prev,
    )


def test_pagination_exact_multiple_has_no_extra_page():
    result = pagination(2, 20, 40)
    assert (result["total_pages"], result["has_next"]) == (2, False)


def test_pagination_of_nothing_has_zero_pages():
    assert pagination(1, 20, 0) == {
        "page": 1,
        "per_page": 20,
        "total": 0,
        "total_pages": 0,
        "has_next": False,
        "has_prev": False,
    }


def test_pagination_of_nothing_on_page_two_has_no_previous_page():
    result = pagination(2, 20, 0)
    assert (result["total_pages"], result["has_next"], result["has_prev"]) == (0, False, False)


def test_pagination_single_item():
    result = pagination(1, 1, 1)
    assert (result["total_pages"], result["has_next"], result["has_prev"]) == (1, False, False)


# ---------------------------------------------------------------------------------------------
# json_response


def test_json_response_content_type_and_status():
    response = json_response({"a": 1}, 201)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"


def test_json_response_default_status_is_200():
    assert json_response({}).status_code == 200


def test_json_response_body_is_orjson_output():
    body = {"s": "é", "n": [1, 2.5, None, True]}
    assert json_response(body).body == orjson.dumps(body)


def test_json_response_uses_orjson_for_values_json_cannot_encode():
    # Only orjson serialises a UUID; the standard library would raise TypeError.
    assert json_response({"id": SESSION_ID}).body == (
        b'{"id":"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}'
    )


def test_json_response_falls_back_for_integers_beyond_64_bits():
    body = {"n": 2**70, "s": "é"}
    response = json_response(body)
    assert response.body == '{"n":1180591620717411303424,"s":"é"}'.encode()
    assert json.loads(response.body) == body


def test_json_response_keeps_extra_headers():
    response = json_response({}, 201, {"Location": "/api/v2/sessions/x"})
    assert response.headers["location"] == "/api/v2/sessions/x"


# ---------------------------------------------------------------------------------------------
# session_json


def session_row(**changes):
    row = {
        "id": SESSION_ID,
        "session_type": "test_generation",
        "status": "pending",
        "project_path": "/repos/petclinic",
        "config": {"model": "gpt-4o"},
        "created_at": utc(2026, 1, 13, 14, 30),
        "updated_at": utc(2026, 1, 13, 14, 31, 2, 1),
        "last_seq": 12,
        "last_event_at": utc(2026, 1, 13, 14, 31, 2, 1),
        "completed_at": None,
        "last_message": "Step generate_tests started",
    }
    row.update(changes)
    return row


def test_session_json_shape():
    assert session_json(session_row()) == {
        "id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "session_type": "test_generation",
        "status": "pending",
        "project_path": "/repos/petclinic",
        "config": {"model": "gpt-4o"},
        "created_at": "2026-01-13T14:30:00.000000Z",
        "updated_at": "2026-01-13T14:31:02.000001Z",
        "event_count": 12,
        "last_event_at": "2026-01-13T14:31:02.000001Z",
        "completed_at": None,
        "last_message": "Step generate_tests started",
    }


def test_session_json_formats_completed_at():
    done = session_json(session_row(status="completed", completed_at=utc(2026, 1, 13, 15, 0)))
    assert done["completed_at"] == "2026-01-13T15:00:00.000000Z"


def test_session_json_without_events_has_null_last_event_at():
    result = session_json(session_row(last_seq=0, last_event_at=None, project_path=None))
    assert (result["event_count"], result["last_event_at"], result["project_path"]) == (
        0,
        None,
        None,
    )


def test_page_links_repeat_the_filters_and_name_each_page():
    links = link_header(
        "/api/v2/sessions/s/events",
        {"per_page": 2, "event_type": ["a b", "c"], "until_seq": 9},
        page=2,
        has_next=True,
        last_page=4,
    )
    query = "per_page=2&event_type=a+b&event_type=c&until_seq=9"
    assert links == ", ".join(
        f'</api/v2/sessions/s/events?{query}&page={n}>; rel="{rel}"'
        for n, rel in ((1, "first"), (1, "prev"), (3, "next"), (4, "last"))
    )
    assert (
        link_header("/x", {}, page=1, has_next=False, last_page=None) == '</x?page=1>; rel="first"'
    )


@pytest.mark.parametrize(
    "query",
    [
        {"per_page": 50, "until_seq": 10000},
        {"since": "2026-01-13T14:30:00.000001+01:00", "order": "asc", "include_total": "false"},
        {"event_type": ["workflow_error", "llm_call"], "after_seq": 0},
        {"event_type": ("a b", "ü/&=?#%+")},
        {"odd key": "tilde~dot.dash-under_score", "empty": "", "n": -3},
    ],
)
def test_the_links_query_string_is_what_urlencode_gives(query):
    first = link_header("/x", query, page=1, has_next=False, last_page=None)
    assert first == f'</x?{urlencode(query, doseq=True)}&page=1>; rel="first"'
