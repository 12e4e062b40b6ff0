"""A client that goes away while its long-poll or stream waits frees everything at once.

Drives the ASGI app directly (its lifespan included) so the test can be the client that
disconnects and can look at the app's notifier afterwards.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from session_events.app import create_app
from tests.asgi import request, running
from tests.conftest import WRITE_KEY


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
    assert state.notifier.watching == 0


async def test_a_stream_whose_client_leaves_ends_and_unregisters(app_and_session):
    app, state, session_id = app_and_session
    path = f"/api/v2/sessions/{session_id}/events/stream"
    sent = await asyncio.wait_for(request(app, state, "GET", path, leave_after=0.2), timeout=10)
    assert sent[0]["status"] == 200
    assert sent[1]["body"].startswith(b"retry:")
    assert state.notifier.watching == 0


async def test_while_they_wait_they_are_registered(app_and_session):
    app, state, session_id = app_and_session
    waiting = asyncio.create_task(
        request(app, state, "GET", f"/api/v2/sessions/{session_id}/events", b"wait=5")
    )
    await asyncio.sleep(0.3)
    assert state.notifier.watching == 1
    metrics = (await request(app, state, "GET", "/metrics"))[1]["body"].decode()
    assert 'testboost_active_connections{kind="long_poll"} 1.0' in metrics
    assert 'testboost_active_connections{kind="stream"} 0.0' in metrics
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
