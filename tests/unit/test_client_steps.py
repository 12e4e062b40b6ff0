"""The client's retry rule, run by hand: which answers and failures are tried again, and when."""

from __future__ import annotations

import httpx
import pytest
from session_events_client.steps import Retry, Send, Sleep, seconds_of, sent

REQUEST = Send("POST", "/api/v2/sessions/x/events", json={"events": []})


def test_a_503_is_sent_again_after_its_retry_after():
    steps = sent(REQUEST, Retry())
    assert next(steps) == REQUEST
    assert steps.send(httpx.Response(503, headers={"Retry-After": "2"})) == Sleep(2.0)
    assert steps.send(None) == REQUEST
    with pytest.raises(StopIteration) as done:
        steps.send(httpx.Response(201))
    assert done.value.value.status_code == 201


def test_a_connection_error_is_sent_again_with_growing_pauses():
    steps = sent(REQUEST, Retry(first=0.1, longest=0.3))
    pauses = []
    next(steps)
    for _ in range(4):
        pauses.append(steps.throw(httpx.ConnectError("refused")).seconds)
        assert steps.send(None) == REQUEST
    assert pauses == [0.1, 0.2, 0.3, 0.3]


def test_without_retry_the_failure_and_the_503_are_the_callers():
    steps = sent(REQUEST, None)
    next(steps)
    with pytest.raises(httpx.ReadTimeout):
        steps.throw(httpx.ReadTimeout("slow"))
    steps = sent(REQUEST, None)
    next(steps)
    with pytest.raises(StopIteration) as done:
        steps.send(httpx.Response(503))
    assert done.value.value.status_code == 503


def test_retrying_ends_when_its_time_is_up():
    steps = sent(REQUEST, Retry(seconds=0))
    next(steps)
    with pytest.raises(httpx.ConnectError):
        steps.throw(httpx.ConnectError("refused"))


def test_retry_after_takes_seconds_or_a_date():
    assert seconds_of("3") == 3.0
    assert seconds_of("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: at once
    assert seconds_of("soon") is None
    assert seconds_of(None) is None
