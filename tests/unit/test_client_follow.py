"""follow()'s rules, driven by hand (it is a generator of steps): what it does after each kind of
answer, with no server."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from httpx_sse import ServerSentEvent
from session_events_client import Refused, Retry
from session_events_client.following import follow
from session_events_client.steps import CloseStream, Emit, NextMessage, OpenStream, Send, Sleep

SESSION_ID = uuid.uuid4()


def session(status: str) -> httpx.Response:
    now = "2026-12-02T00:00:00.000000Z"
    return httpx.Response(200, json={
        "id": str(SESSION_ID), "session_type": "build", "status": status, "project_path": None,
        "config": {}, "created_at": now, "updated_at": now, "event_count": 0,
        "last_event_at": None, "completed_at": None,
    })  # fmt: skip


def message(seq: int, id: str | None = None) -> ServerSentEvent:
    data = json.dumps({
        "id": str(uuid.uuid4()), "session_id": str(SESSION_ID), "seq": seq, "step_id": None,
        "event_type": "log", "event_data": {}, "message": None,
        "timestamp": "2026-12-02T00:00:00.000001Z",
    })  # fmt: skip
    return ServerSentEvent(event="log", data=data, id=str(seq) if id is None else id)


def opened(steps, status: int = 200):
    assert isinstance(next(steps), OpenStream)
    return steps.send(httpx.Response(status))


def test_a_stream_that_ends_early_is_opened_again_after_a_pause_not_at_once():
    steps = follow(SESSION_ID, retry=Retry())
    assert isinstance(opened(steps), NextMessage)
    assert isinstance(steps.send(None), CloseStream)  # ended with nothing sent
    assert isinstance(steps.send(None), Send)  # which is the session's status?
    assert isinstance(steps.send(session("in_progress")), Sleep)
    assert isinstance(steps.send(None), OpenStream)


def test_events_are_yielded_once_by_their_seq_even_without_ids():
    steps = follow(SESSION_ID, after_seq=1, retry=Retry())
    opened(steps)
    yielded = []
    for item in [message(1), message(2, id=""), message(2), message(3)]:
        step = steps.send(item)
        while isinstance(step, Emit):
            yielded.append(step.item.seq)
            step = steps.send(None)
    assert yielded == [2, 3]


def test_a_reconnect_resumes_after_the_last_event():
    steps = follow(SESSION_ID, retry=Retry())
    opened(steps)
    assert isinstance(steps.send(message(7)), Emit)
    assert isinstance(steps.send(None), NextMessage)
    assert isinstance(steps.throw(httpx.ReadError("reset")), Sleep)
    reopen = steps.send(None)
    assert reopen.request.headers["Last-Event-ID"] == "7"
    assert reopen.request.params["after_seq"] == 7


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_stream_the_server_is_not_ready_for_is_tried_again(status):
    steps = follow(SESSION_ID, retry=Retry())
    assert isinstance(opened(steps, status), Sleep)


def test_a_stream_a_proxy_refuses_turns_into_long_polls():
    steps = follow(SESSION_ID, retry=Retry())
    poll = opened(steps, 501)
    assert poll.path.endswith("/events") and poll.params["wait"] == "25"


def test_a_refused_stream_raises_the_problem():
    steps = follow(SESSION_ID, retry=Retry())
    next(steps)
    problem = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No such."}
    with pytest.raises(Refused, match="No such"):
        steps.send(httpx.Response(404, json=problem))


def test_without_time_to_retry_a_broken_stream_is_an_error():
    steps = follow(SESSION_ID, retry=None)
    next(steps)
    with pytest.raises(ConnectionError, match="could not be resumed"):
        steps.throw(httpx.ConnectError("refused"))
