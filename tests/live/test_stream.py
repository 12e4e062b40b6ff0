"""The Server-Sent Events stream through a real server process, on both backends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import READ, WRITE
from tests.live.sse import read_events, sse_messages

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)

TIMEOUT = 60


@pytest.fixture
async def api(live_server):
    server = live_server(EVENTS_STREAM_HEARTBEAT_SECONDS="0.3")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        yield http


async def new_session(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
    return response.json()["id"]


async def append(http: httpx.AsyncClient, session_id: str, *event_types: str) -> None:
    events = [{"event_type": t, "event_data": {"i": i}} for i, t in enumerate(event_types)]
    response = await http.post(
        f"/api/v2/sessions/{session_id}/events", json={"events": events}, headers=WRITE
    )
    assert response.status_code == 201, response.text


async def set_status(http: httpx.AsyncClient, session_id: str, status: str) -> None:
    response = await http.patch(
        f"/api/v2/sessions/{session_id}", json={"status": status}, headers=WRITE
    )
    assert response.status_code == 200, response.text


def stream(http: httpx.AsyncClient, session_id: str, query: str = "", **headers: str):
    url = f"/api/v2/sessions/{session_id}/events/stream"
    return http.stream("GET", f"{url}?{query}" if query else url, headers={**READ, **headers})


async def test_last_event_id_resumes_exactly_once_across_replay_and_live(api):
    session_id = await new_session(api)
    await append(api, session_id, *["tick"] * 30)

    async def writer():  # keeps appending while the stream replays and goes live
        for _ in range(20):
            await append(api, session_id, "tick", "tick", "tick")
            await asyncio.sleep(0.01)

    async with stream(api, session_id, "after_seq=3", **{"Last-Event-ID": "12"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writing = asyncio.create_task(writer())
        events = await asyncio.wait_for(read_events(response, until_seq=90), TIMEOUT)
        await writing
    assert [e["data"]["seq"] for e in events] == list(range(13, 91))  # the header won
    assert all(e["id"] == str(e["data"]["seq"]) for e in events)
    assert all(e["event"] == e["data"]["event_type"] == "tick" for e in events)


async def test_the_stream_starts_with_a_retry_hint_and_sends_heartbeats(api):
    session_id = await new_session(api)
    async with stream(api, session_id) as response:
        messages = []
        async for message in sse_messages(response):
            messages.append(message)
            if len(messages) == 3:
                break
    assert messages[0] == {"retry": "3000"}
    assert messages[1:] == [{"comment": "heartbeat"}, {"comment": "heartbeat"}]


async def test_an_event_type_filter_sends_only_those_types(api):
    session_id = await new_session(api)
    await append(api, session_id, "a", "b", "c", "a")
    async with stream(api, session_id, "event_type=a&event_type=c") as response:
        await append(api, session_id, "b", "c")
        events = await asyncio.wait_for(read_events(response, count=4), TIMEOUT)
    assert [(e["data"]["seq"], e["event"]) for e in events] == [
        (1, "a"),
        (3, "c"),
        (4, "a"),
        (6, "c"),
    ]


async def test_the_stream_ends_after_a_terminal_status_is_sent(api):
    session_id = await new_session(api)
    await append(api, session_id, "tick")
    async with stream(api, session_id) as response:
        await set_status(api, session_id, "in_progress")
        await append(api, session_id, "tick")
        await set_status(api, session_id, "completed")
        events = await asyncio.wait_for(read_events(response), TIMEOUT)  # returns at the end
    assert [(e["data"]["seq"], e["event"]) for e in events] == [
        (1, "tick"),
        (2, "status_changed"),
        (3, "tick"),
        (4, "status_changed"),
    ]
    assert events[-1]["data"]["event_data"] == {
        "old_status": "in_progress",
        "new_status": "completed",
    }


async def test_a_finished_session_streams_its_history_and_ends(api):
    session_id = await new_session(api)
    await append(api, session_id, "tick", "tick")
    await set_status(api, session_id, "cancelled")
    async with stream(api, session_id, "after_seq=1") as response:
        events = await asyncio.wait_for(read_events(response), TIMEOUT)
    assert [e["data"]["seq"] for e in events] == [2, 3]


async def test_errors_come_before_the_stream_as_problems(api):
    session_id = await new_session(api)
    unknown = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    cases = [
        (f"/api/v2/sessions/{unknown}/events/stream", READ, 404),
        ("/api/v2/sessions/not-a-uuid/events/stream", READ, 400),
        (f"/api/v2/sessions/{session_id}/events/stream?after_seq=-1", READ, 400),
        (f"/api/v2/sessions/{session_id}/events/stream?event_type=A", READ, 400),
        (f"/api/v2/sessions/{session_id}/events/stream", {**READ, "Last-Event-ID": "x"}, 400),
        (f"/api/v2/sessions/{session_id}/events/stream", {}, 401),
    ]
    for url, headers, status in cases:
        response = await api.get(url, headers=headers)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_events_with_big_numbers_and_line_breaks_stream_intact(api):
    session_id = await new_session(api)
    payload = {"big": 2**80, "text": "line one\nline two\r\n\u2028end"}
    response = await api.post(
        f"/api/v2/sessions/{session_id}/events",
        json={"events": [{"event_type": "tick", "event_data": payload, "message": "a\nb"}]},
        headers=WRITE,
    )
    assert response.status_code == 201
    async with stream(api, session_id) as response:
        [event] = await asyncio.wait_for(read_events(response, count=1), TIMEOUT)
    assert event["data"]["event_data"] == payload
    assert event["data"]["message"] == "a\nb"
