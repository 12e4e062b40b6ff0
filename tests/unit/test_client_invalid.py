"""A producer's bad event, refused before it is sent, in a sentence like the server's detail."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from session_events_client import Invalid, Refused
from session_events_client.errors import invalid
from session_events_client.models import EventCreate


def refused(**event) -> Invalid:
    with pytest.raises(ValidationError) as error:
        EventCreate.model_validate(event)
    return invalid(error.value)


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({"event_type": "Bad"}, 'event_type must match the pattern ^[a-z_]+$ (got "Bad").'),
        ({"event_type": "log", "event_data": [1]}, "event_data must be a JSON object (got [1])."),
        (
            {"event_type": "log", "step_id": "nope"},
            'step_id must be a UUID, such as 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b (got "nope").',
        ),
        ({"message": "x"}, "event_type is required."),
        ({"event_type": "x" * 101}, "event_type must be at most 100 characters long."),
        ({"event_type": "log", "message": 4}, "message must be a string (got 4)."),
    ],
)
def test_the_detail_names_the_field_and_what_is_wrong(event, detail):
    assert refused(**event).detail == detail


def test_it_is_a_refusal_and_a_value_error():
    error = refused(event_type="Bad")
    assert isinstance(error, Refused) and isinstance(error, ValueError)
    assert (error.status, error.title, error.response) == (400, "Bad Request", None)


def test_more_than_one_wrong_field_is_counted():
    error = refused(event_type="Bad", step_id="nope", message=4)
    assert error.detail.endswith("; 2 more field(s) are wrong too.")


def test_an_error_of_no_known_kind_still_names_its_field():
    with pytest.raises(ValidationError) as error:
        EventCreate.model_validate({"event_type": "log", "extra": 1})
    assert invalid(error.value).detail.startswith("extra is not valid: ")
