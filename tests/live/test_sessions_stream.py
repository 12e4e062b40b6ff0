"""GET /sessions/stream through a real server process, on both backends: the snapshot, live
changes, coalesced progress, deletions, resuming with Last-Event-ID, and when it cannot."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.conftest import READ
from tests.live.dashboard import (
    Dashboard,
    all_sessions,
    append,
    create,
    delete,
    set_status,
)

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)


@pytest.fixture
async def api(live_server):
    server = live_server(EVENTS_STREAM_HEARTBEAT_SECONDS="0.3")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        yield http


async def test_the_snapshot_is_newest_first_bounded_and_filtered(api):
    made = [await create(api, kind) for kind in ("build", "test_generation", "build", "agent")]
    await set_status(api, made[2]["id"], "in_progress")
    newest_first = [session["id"] for session in reversed(made)]

    async with Dashboard(api, "limit=3") as everything:
        snapshot = await everything.wait_event("snapshot")
        assert everything.status_code == 200
        assert everything.messages[0] == {"retry": "3000", "at": everything.messages[0]["at"]}
    assert [item["id"] for item in snapshot["data"]["items"]] == newest_first[:3]
    assert snapshot["data"]["reason"] is None
    assert snapshot["data"]["items"][1]["status"] == "in_progress"

    async with Dashboard(api, "session_type=build&session_type=agent") as some:
        items = (await some.wait_event("snapshot"))["data"]["items"]
    assert [item["id"] for item in items] == [newest_first[0], newest_first[1], newest_first[3]]

    async with Dashboard(api, "session_type=build&status=pending") as one:
        items = (await one.wait_event("snapshot"))["data"]["items"]
    assert [item["id"] for item in items] == [made[0]["id"]]


async def test_new_sessions_and_every_status_change_arrive_live(api):
    async with (
        Dashboard(api) as dashboard,
        Dashboard(api, "status=pending") as pending,
        Dashboard(api, "session_type=agent") as agents,
    ):
        await asyncio.gather(*(d.wait_event("snapshot") for d in (dashboard, pending, agents)))
        delays = []
        started = time.monotonic()
        session = await create(api)
        created = await dashboard.wait_event("session_created", session["id"])
        delays.append(created["at"] - started)
        assert created["data"] == session
        await pending.wait_event("session_created", session["id"])
        for status in ("in_progress", "paused", "in_progress", "completed"):
            started = time.monotonic()
            await set_status(api, session["id"], status)
            changed = await dashboard.wait_for(
                lambda m, status=status, at=started: (
                    m.get("event") == "session_updated"
                    and m["data"]["status"] == status
                    and m["at"] > at
                )
            )
            delays.append(changed["at"] - started)
        print("delays from the change to the dashboard (s):", [round(d, 3) for d in delays])
        assert dashboard.sessions[session["id"]]["status"] == "completed"
        assert dashboard.sessions[session["id"]]["completed_at"] is not None
        # The pending dashboard hears once that it left, then nothing more of it.
        await asyncio.sleep(0.6)
        updates = pending.events("session_updated", session["id"])
        assert [m["data"]["status"] for m in updates] == ["in_progress"]
        assert agents.events(session_id=session["id"]) == []  # another type


async def test_progress_is_coalesced_and_the_last_update_is_right(api):
    session = await create(api)
    async with Dashboard(api) as dashboard:
        await dashboard.wait_event("snapshot")
        appends = 60
        for _ in range(appends):
            await append(api, session["id"])
        last = await dashboard.wait_event("session_updated", session["id"], event_count=appends)
        updates = dashboard.events("session_updated", session["id"])
        print(f"{appends} appends -> {len(updates)} updates")
        assert len(updates) < appends // 2
        assert updates[-1] is last
        assert last["data"]["last_event_at"] == last["data"]["updated_at"]


async def test_a_deletion_is_sent_to_the_streams_that_hold_the_session(api):
    kept, doomed = await create(api), await create(api, "agent")
    async with Dashboard(api) as dashboard, Dashboard(api, "session_type=build") as builds:
        await dashboard.wait_event("snapshot")
        await builds.wait_event("snapshot")
        await delete(api, doomed["id"])
        deleted = await dashboard.wait_event("session_deleted", doomed["id"])
        assert deleted["data"] == {"id": doomed["id"]}
        assert list(dashboard.sessions) == [kept["id"]]
        await delete(api, kept["id"])
        await builds.wait_event("session_deleted", kept["id"])
        assert builds.events(session_id=doomed["id"]) == []  # it never held that one


async def test_last_event_id_resumes_with_every_change_made_while_away(api):
    running, finishing, doomed = await create(api), await create(api), await create(api)
    for session in (running, finishing):
        await set_status(api, session["id"], "in_progress")
    async with Dashboard(api) as first, Dashboard(api, "status=in_progress") as busy:
        await first.wait_event("snapshot")
        await busy.wait_event("snapshot")
    held, busy_held = dict(first.sessions), dict(busy.sessions)
    assert set(busy_held) == {running["id"], finishing["id"]}

    # While nobody watches: a status goes twice, a session goes, one is made, one gets events.
    await set_status(api, finishing["id"], "paused")
    await set_status(api, finishing["id"], "failed")
    await delete(api, doomed["id"])
    born = await create(api)
    await append(api, running["id"], 3)

    async with (
        Dashboard(api, last_event_id=first.last_id, holding=held) as again,
        Dashboard(
            api, "status=in_progress", last_event_id=busy.last_id, holding=busy_held
        ) as busy_again,
    ):
        await again.wait_event("session_deleted", doomed["id"])
        await again.wait_event("session_updated", finishing["id"], status="failed")
        await again.wait_event("session_updated", running["id"], event_count=4)
        await again.wait_for(lambda m: m.get("data", {}).get("id") == born["id"])
        await busy_again.wait_event("session_updated", finishing["id"], status="failed")
        assert again.events("snapshot") == [] and busy_again.events("snapshot") == []
        truth = await all_sessions(api)
        assert again.sessions == truth
        # the busy dashboard drops what stopped matching (it sees the status), keeps the rest
        shown = {k: v for k, v in busy_again.sessions.items() if v["status"] == "in_progress"}
        assert shown == {running["id"]: truth[running["id"]]}

        later = await create(api)  # and it carries on live
        await again.wait_event("session_created", later["id"])


async def test_a_cursor_it_cannot_resume_from_gets_a_snapshot_that_says_why(api):
    session = await create(api)
    for cursor, says in (
        ("1", "EVENTS_SESSION_TOMBSTONE_SECONDS"),  # older than deletions are kept
        ("99999999999999999999", "not a cursor of this server"),
    ):
        async with Dashboard(api, last_event_id=cursor) as dashboard:
            snapshot = await dashboard.wait_event("snapshot")
        assert says in snapshot["data"]["reason"]
        assert [item["id"] for item in snapshot["data"]["items"]] == [session["id"]]


async def test_heartbeats_metrics_head_and_refusals(api):
    async with Dashboard(api) as dashboard, Dashboard(api, "status=failed"):
        await dashboard.wait_for(lambda m: m.get("comment") == "heartbeat")
        metrics = (await api.get("/metrics")).text
        assert "testboost_sessions_stream_watchers 2.0" in metrics
    head = await api.head("/api/v2/sessions/stream", headers=READ)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")
    refused = await api.get("/api/v2/sessions/stream?limit=0", headers=READ)
    assert refused.status_code == 400 and "limit" in refused.json()["detail"]
    refused = await api.get("/api/v2/sessions/stream", headers={**READ, "Last-Event-ID": "x"})
    assert refused.status_code == 400 and "Last-Event-ID" in refused.json()["detail"]
    assert (await api.get("/api/v2/sessions/stream")).status_code == 401
