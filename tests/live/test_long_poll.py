"""Long-poll (`wait`) through a real server process, on both backends.

The waits are long (10 s) and the appends early, so "returns early" is told apart from "timed out"
by a wide margin, not by a tight timing threshold.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.conftest import READ, WRITE

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)

WAIT = 10


@pytest.fixture
async def api(live_server):
    server = live_server()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        yield http


async def new_session(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
    return response.json()["id"]


async def append_later(http: httpx.AsyncClient, session_id: str, *event_types: str) -> None:
    await asyncio.sleep(0.5)
    events = [{"event_type": t} for t in event_types]
    response = await http.post(
        f"/api/v2/sessions/{session_id}/events", json={"events": events}, headers=WRITE
    )
    assert response.status_code == 201


async def timed_get(http: httpx.AsyncClient, url: str, **headers: str):
    started = time.monotonic()
    response = await http.get(url, headers={**READ, **headers})
    return response, time.monotonic() - started


async def test_a_held_poll_returns_with_the_appended_event(api):
    session_id = await new_session(api)
    url = f"/api/v2/sessions/{session_id}/events?after_seq=0&order=asc&wait={WAIT}"
    (response, elapsed), _ = await asyncio.gather(
        timed_get(api, url), append_later(api, session_id, "tick")
    )
    assert response.status_code == 200
    assert [e["seq"] for e in response.json()["items"]] == [1]
    assert elapsed < WAIT / 2


async def test_a_held_poll_ignores_events_it_does_not_match(api):
    session_id = await new_session(api)
    url = f"/api/v2/sessions/{session_id}/events?event_type=workflow_error&wait={WAIT}"

    async def appends():
        await append_later(api, session_id, "tick")
        await append_later(api, session_id, "workflow_error")

    (response, elapsed), _ = await asyncio.gather(timed_get(api, url), appends())
    assert [(e["seq"], e["event_type"]) for e in response.json()["items"]] == [
        (2, "workflow_error")
    ]
    assert elapsed < WAIT / 2


async def test_a_held_poll_times_out_with_the_empty_page(api):
    session_id = await new_session(api)
    response, elapsed = await timed_get(api, f"/api/v2/sessions/{session_id}/events?wait=1")
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["pagination"]["total"] == 0
    assert elapsed >= 1


async def test_a_page_with_events_is_not_held(api):
    session_id = await new_session(api)
    await append_later(api, session_id, "tick")
    response, elapsed = await timed_get(api, f"/api/v2/sessions/{session_id}/events?wait={WAIT}")
    assert [e["seq"] for e in response.json()["items"]] == [1]
    assert elapsed < WAIT / 2


async def test_a_held_revalidation_answers_304_on_timeout_and_200_on_change(api):
    session_id = await new_session(api)
    await append_later(api, session_id, "tick")
    url = f"/api/v2/sessions/{session_id}/events"
    tag = (await api.get(url, headers=READ)).headers["ETag"]

    unchanged, elapsed = await timed_get(api, f"{url}?wait=1", **{"If-None-Match": tag})
    assert unchanged.status_code == 304
    assert elapsed >= 1

    (changed, elapsed), _ = await asyncio.gather(
        timed_get(api, f"{url}?wait={WAIT}", **{"If-None-Match": tag}),
        append_later(api, session_id, "tick"),
    )
    assert changed.status_code == 200
    assert [e["seq"] for e in changed.json()["items"]] == [2, 1]
    assert elapsed < WAIT / 2


async def test_wait_out_of_range_is_400(api):
    session_id = await new_session(api)
    response = await api.get(f"/api/v2/sessions/{session_id}/events?wait=31", headers=READ)
    assert response.status_code == 400
    assert "wait" in response.json()["detail"]
