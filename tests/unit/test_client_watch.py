"""follow_sessions()'s rules, driven by hand (it is a generator of steps), with no server: which
change each message makes, by the contract's data schemas, and where a reconnect resumes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from httpx_sse import ServerSentEvent
from session_events_client import Created, Deleted, Refused, Retry, Snapshot, Updated
from session_events_client.models import SessionStreamEvent
from session_events_client.steps import CloseStream, Emit, NextMessage, OpenStream, Sleep
from session_events_client.watching import CHANGES, follow_sessions

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "events-api.yaml"
NOW = "2026-12-06T00:00:00.000000Z"
SESSION = {
    "id": str(uuid.uuid4()), "session_type": "build", "status": "in_progress",
    "project_path": None, "config": {}, "created_at": NOW, "updated_at": NOW, "event_count": 3,
    "last_event_at": NOW, "completed_at": None,
}  # fmt: skip


def message(id: str, event: str, data: dict) -> ServerSentEvent:
    return ServerSentEvent(event=event, data=json.dumps(data), id=id)


def changes_of(steps, messages) -> list:
    """What the open stream's `messages` make follow_sessions() emit."""
    assert isinstance(steps.send(httpx.Response(200)), NextMessage)
    changes = []
    for item in messages:
        step = steps.send(item)
        while isinstance(step, Emit):
            changes.append(step.item)
            step = steps.send(None)
        assert isinstance(step, NextMessage)
    return changes


def test_each_event_of_the_contract_has_the_model_its_data_schemas_name():
    schema = yaml.safe_load(CONTRACT.read_text())["components"]["schemas"]["SessionStreamMessage"]
    named = {event: ref.rsplit("/", 1)[1] for event, ref in schema["x-data-schemas"].items()}
    assert {str(event): model.__name__ for event, (model, _) in CHANGES.items()} == named
    assert set(CHANGES) == set(SessionStreamEvent)


def test_each_message_becomes_its_typed_change_carrying_its_cursor():
    steps = follow_sessions(retry=Retry())
    next(steps)
    gone = uuid.uuid4()
    changes = changes_of(steps, [
        ServerSentEvent(retry=3000),
        message("10", "snapshot", {"items": [SESSION], "reason": None}),
        message("11", "session_created", SESSION),
        message("12", "session_updated", {**SESSION, "status": "completed"}),
        message("13", "session_deleted", {"id": str(gone)}),
    ])  # fmt: skip
    assert [type(change) for change in changes] == [Snapshot, Created, Updated, Deleted]
    assert [change.cursor for change in changes] == ["10", "11", "12", "13"]
    assert changes[0].sessions[0].id == uuid.UUID(SESSION["id"]) and changes[0].reason is None
    assert changes[2].session.status == "completed"
    assert changes[3].id == gone


def test_a_reconnect_resumes_after_the_last_message_with_the_same_filters():
    steps = follow_sessions("in_progress", ["build", "deploy"], 5, retry=Retry())
    first = next(steps).request
    assert "Last-Event-ID" not in first.headers
    filters = {"status": "in_progress", "session_type": ["build", "deploy"], "limit": 5}
    assert first.params == filters
    changes_of(steps, [message("41", "snapshot", {"items": [], "reason": None})])
    assert isinstance(steps.throw(httpx.ReadError("reset")), Sleep)
    again = steps.send(None)
    assert isinstance(again, OpenStream)
    assert again.request.headers["Last-Event-ID"] == "41"
    assert again.request.params == first.params


def test_a_stream_that_ends_by_itself_is_opened_again_after_a_pause():
    steps = follow_sessions(retry=Retry())
    next(steps)
    changes_of(steps, [message("7", "snapshot", {"items": [], "reason": None})])
    assert isinstance(steps.send(None), CloseStream)  # it ended
    assert isinstance(steps.send(None), Sleep)
    assert steps.send(None).request.headers["Last-Event-ID"] == "7"


def test_a_cursor_given_resumes_from_it_at_once():
    steps = follow_sessions(cursor="1768314601000002", retry=Retry())
    assert next(steps).request.headers["Last-Event-ID"] == "1768314601000002"


def test_an_event_this_client_does_not_know_is_passed_over_but_moves_the_cursor():
    steps = follow_sessions(retry=Retry())
    next(steps)
    assert changes_of(steps, [message("8", "session_renamed", {"id": SESSION["id"]})]) == []
    steps.throw(httpx.ReadError("reset"))
    assert steps.send(None).request.headers["Last-Event-ID"] == "8"


def test_a_refused_stream_raises_the_problem():
    steps = follow_sessions(retry=Retry())
    next(steps)
    problem = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "No way"}
    with pytest.raises(Refused, match="No way"):
        steps.send(httpx.Response(400, json=problem))


def test_without_time_to_retry_a_broken_stream_is_an_error():
    steps = follow_sessions(retry=None)
    next(steps)
    with pytest.raises(ConnectionError, match="the sessions stream could not be resumed"):
        steps.throw(httpx.ConnectError("refused"))
