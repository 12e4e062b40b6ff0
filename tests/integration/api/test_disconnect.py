"""A client that goes away while its long-poll or stream waits frees everything at once.

Drives the ASGI app directly (its lifespan included) so the test can be the client that
disconnects and can look at the app's hubs and notifier afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import event

from session_events.app import create_app
from session_events.http_protocol import CLIENT_DONE
from tests.asgi import request, running
from tests.conftest import WRITE_KEY


def watchers(state) -> int:
    counts = state.hubs.counts()
    return counts["stream"] + counts["long_poll"]


async def released(state) -> bool:
    """No watcher, no hub, and (once the hub's task has had its turn) no wake-up registered:
    an idle session costs nothing."""
    if state.hubs.counts() != {"sessions": 0, "stream": 0, "long_poll": 0, "bytes": 0}:
        return False
    for _ in range(500):  # the hub's task ends at its next turn (after a read under way)
        if state.notifier.watching == 0:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.fixture
async def app_and_session(settings):
    app = create_app(settings)
    async with running(app) as state:
        created = await request(
            app, state, "POST", "/api/v2/sessions", body=b'{"session_type": "x"}', key=WRITE_KEY
        )
        session_id = json.loads(created[1]["body"])["id"]
        yield app, state, session_id


async def test_a_long_poll_whose_client_leaves_ends_and_unregisters(app_and_session):
    app, state, session_id = app_and_session
    path = f"/api/v2/sessions/{session_id}/events"
    sent = await asyncio.wait_for(
        request(app, state, "GET", path, b"wait=30", leave_after=0.2), timeout=10
    )
    assert sent[0]["status"] == 200  # answered (to no one) long before the 30 s
    assert await released(state)


async def test_a_stream_whose_client_leaves_ends_and_unregisters(app_and_session):
    app, state, session_id = app_and_session
    path = f"/api/v2/sessions/{session_id}/events/stream"
    sent = await asyncio.wait_for(request(app, state, "GET", path, leave_after=0.2), timeout=10)
    assert sent[0]["status"] == 200
    assert sent[1]["body"].startswith(b"retry:")
    assert await released(state)


async def test_while_they_wait_they_are_registered(app_and_session):
    app, state, session_id = app_and_session
    waiting = asyncio.create_task(
        request(app, state, "GET", f"/api/v2/sessions/{session_id}/events", b"wait=5")
    )
    await asyncio.sleep(0.3)
    assert watchers(state) == 1
    metrics = (await request(app, state, "GET", "/metrics"))[1]["body"].decode()
    assert 'testboost_active_connections{kind="long_poll"} 1.0' in metrics
    assert 'testboost_active_connections{kind="stream"} 0.0' in metrics
    assert "testboost_watched_sessions 1.0" in metrics
    assert "testboost_stream_bytes_queued 0.0" in metrics
    waiting.cancel()


async def test_a_stream_of_a_finished_session_replays_in_batches_and_ends(app_and_session):
    app, state, session_id = app_and_session
    events = json.dumps({"events": [{"event_type": "tick"}] * 1000}).encode()
    path = f"/api/v2/sessions/{session_id}/events"
    for _ in range(2):  # more than one replay batch
        await request(app, state, "POST", path, body=events, key=WRITE_KEY)
    done = b'{"status": "completed"}'
    await request(app, state, "PATCH", f"/api/v2/sessions/{session_id}", body=done, key=WRITE_KEY)
    sent = await asyncio.wait_for(request(app, state, "GET", f"{path}/stream"), timeout=30)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    ids = [int(line[4:]) for line in body.split(b"\n") if line.startswith(b"id: ")]
    assert ids == list(range(1, 2002))  # 2,000 ticks and the status change, then the end


async def test_a_stream_whose_client_stops_sending_ends_and_unregisters(app_and_session):
    """The server's CLIENT_DONE extension is how a client's EOF reaches the app: a peer that
    closed its socket is gone, whether or not a write has failed yet."""
    app, state, session_id = app_and_session
    done = asyncio.Event()
    extensions = {CLIENT_DONE: {"event": done}}
    path = f"/api/v2/sessions/{session_id}/events/stream"
    streaming = asyncio.create_task(request(app, state, "GET", path, extensions=extensions))
    await asyncio.sleep(0.3)
    assert watchers(state) == 1
    done.set()
    sent = await asyncio.wait_for(streaming, timeout=2)
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert await released(state)


async def test_a_long_poll_after_its_client_stopped_sending_answers_at_once(app_and_session):
    app, state, session_id = app_and_session
    done = asyncio.Event()
    done.set()  # a pipelined long-poll behind the client's EOF
    path = f"/api/v2/sessions/{session_id}/events"
    extensions = {CLIENT_DONE: {"event": done}}
    sent = await asyncio.wait_for(
        request(app, state, "GET", path, b"wait=30", extensions=extensions), timeout=2
    )
    assert sent[0]["status"] == 200
    assert await released(state)


async def test_a_stream_whose_client_leaves_mid_replay_reads_no_further(app_and_session):
    app, state, session_id = app_and_session
    events = json.dumps({"events": [{"event_type": "tick"}] * 1000}).encode()
    path = f"/api/v2/sessions/{session_id}/events"
    for _ in range(3):  # six replay batches
        await request(app, state, "POST", path, body=events, key=WRITE_KEY)

    sent = await asyncio.wait_for(
        request(app, state, "GET", f"{path}/stream", leave_after=0), timeout=10
    )
    ids = [
        int(line[4:])
        for m in sent[1:]
        for line in m.get("body", b"").split(b"\n")
        if line.startswith(b"id: ")
    ]
    assert ids == list(range(1, len(ids) + 1))
    assert len(ids) < 3000  # the client was seen gone before the replay ended
    assert await released(state)


async def test_an_append_whose_body_is_cut_short_is_not_executed(app_and_session):
    app, state, session_id = app_and_session
    path = f"/api/v2/sessions/{session_id}/events"
    body = b'{"events": [{"event_type": "cut"}]}'  # valid JSON, but more was announced
    sent = await request(app, state, "POST", path, body=body, key=WRITE_KEY, body_cut_short=True)
    assert sent == []  # nothing to answer: the client has gone
    listed = await request(app, state, "GET", path)
    assert json.loads(listed[1]["body"])["items"] == []


# Statements are counted through SQLAlchemy's events, which PostgreSQL's fast reads bypass.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_long_polls_woken_by_an_append_are_answered_from_the_hub(app_and_session):
    """Fifty long-polls of one session and one append: the hub reads the append once and
    answers every poll from what it holds, not with a read of its own each."""
    app, state, session_id = app_and_session
    path = f"/api/v2/sessions/{session_id}/events"
    polls = [
        asyncio.create_task(request(app, state, "GET", path, b"wait=20&after_seq=0&order=asc"))
        for _ in range(50)
    ]
    hub = None
    while hub is None or sum(w.waiter is not None for w in hub.watchers) < 50:  # all asleep
        await asyncio.sleep(0.01)
        hub = state.hubs.hubs.get(uuid.UUID(session_id))
    statements = []

    def counted(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    for engine in (state.database.reader, state.database.writer):
        event.listen(engine.sync_engine, "before_cursor_execute", counted)
    try:
        body = json.dumps({"events": [{"event_type": "tick"}]}).encode()
        await request(app, state, "POST", path, body=body, key=WRITE_KEY)
        answers = await asyncio.wait_for(asyncio.gather(*polls), timeout=10)
    finally:
        for engine in (state.database.reader, state.database.writer):
            event.remove(engine.sync_engine, "before_cursor_execute", counted)
    for sent in answers:
        assert sent[0]["status"] == 200
        assert [item["seq"] for item in json.loads(sent[1]["body"])["items"]] == [1]
    # The append's statements and the hub's read, not a read per poll.
    assert len(statements) < 10, [statement[:60] for statement in statements]
