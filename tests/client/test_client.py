"""The Python client against a live server, on both databases: its operations, refusals,
listing walks, CI gate and retries."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from session_events_client import AsyncClient, Client, Refused, Retry

from support.live_server import READ_KEY, WRITE_KEY


def test_every_operation_of_the_contract(client):
    session = client.create_session("build", "/repos/petclinic", {"model": "x"})
    assert (session.status, session.project_path, session.config) == (
        "pending",
        "/repos/petclinic",
        {"model": "x"},
    )
    stored = client.append_events(session.id, [{"event_type": "log", "message": "hi"}])
    assert [(e.seq, e.message) for e in stored] == [(1, "hi")]
    assert client.update_session(session.id, status="in_progress").status == "in_progress"
    assert client.get_session(session.id).event_count == 2  # the status change is an event
    page = client.list_events(session.id, order="asc", event_type=["log"], include_total=False)
    assert [e.event_type for e in page.items] == ["log"]
    assert page.pagination.total is None
    assert session.id in [s.id for s in client.list_sessions(status="in_progress").items]
    client.delete_session(session.id)
    with pytest.raises(Refused) as refused:
        client.get_session(session.id)
    assert (refused.value.status, refused.value.title) == (404, "Not Found")
    assert str(session.id) in refused.value.detail


def test_a_refusal_carries_the_problem(server):
    with Client(server.base_url, api_key=READ_KEY) as reader:
        with pytest.raises(Refused) as refused:
            reader.create_session("build")
        assert refused.value.status == 403
        assert "write key" in refused.value.detail
        with pytest.raises(Refused) as refused:
            reader.list_events(uuid.uuid4(), per_page=500)
        assert refused.value.status == 400
        assert refused.value.detail == "per_page must be at most 100 (got 500)."


def test_a_batch_sent_again_is_stored_once(client):
    session = client.create_session("build")
    events = [{"id": uuid.uuid4(), "event_type": "log", "message": str(n)} for n in range(3)]
    first = client.append_events(session.id, events)
    again = client.append_events(session.id, events)
    assert [e.seq for e in again] == [e.seq for e in first] == [1, 2, 3]
    assert client.get_session(session.id).event_count == 3


def test_an_append_whose_answer_is_lost_is_stored_once(server):
    """The request reaches the server, the answer does not: the retry (same ids) finds the
    events stored. The lost answer is staged by a transport around the real one."""
    upstream, lost = httpx.HTTPTransport(), []

    def answer_lost_once(request: httpx.Request) -> httpx.Response:
        response = upstream.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/events") and not lost:
            lost.append(response.read())
            raise httpx.ReadError("connection reset before the answer")
        return response

    http = httpx.Client(base_url=server.base_url, headers={"X-API-Key": WRITE_KEY},
                        transport=httpx.MockTransport(answer_lost_once))  # fmt: skip
    with http, Client(http=http) as client:
        session = client.create_session("build")
        stored = client.append_events(session.id, [{"event_type": "log"}, {"event_type": "log"}])
        assert lost  # the first answer was dropped
        assert [e.seq for e in stored] == [1, 2]
        assert client.get_session(session.id).event_count == 2


def test_iter_events_walks_a_snapshot_while_events_arrive(client):
    session = client.create_session("build")
    client.append_events(session.id, [{"event_type": "log"} for _ in range(250)])
    seen = []
    for event in client.iter_events(session.id, order="asc", per_page=100):
        seen.append(event.seq)
        if event.seq == 150:  # mid-walk, more arrive: the walk keeps to the first 250
            client.append_events(session.id, [{"event_type": "log"} for _ in range(10)])
    assert seen == list(range(1, 251))


def test_wait_until_finished_returns_the_ended_session(client):
    session = client.create_session("build")
    client.update_session(session.id, status="in_progress")
    timer = threading.Timer(0.5, client.update_session, (session.id,), {"status": "failed"})
    timer.start()
    began = time.monotonic()
    ended = client.wait_until_finished(session.id, timeout=20)
    assert ended.status == "failed"
    assert time.monotonic() - began < 5  # woken by the change, not by a poll interval
    with pytest.raises(TimeoutError, match="still pending"):
        client.wait_until_finished(client.create_session("build").id, timeout=1)


def test_an_append_rides_over_a_server_restart(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        server.stop()
        restart = threading.Timer(1.0, server.start)
        restart.start()
        stored = client.append_events(session.id, [{"event_type": "log", "message": "late"}])
        restart.join()
        assert [e.message for e in stored] == ["late"]
        assert client.get_session(session.id).event_count == 1


def test_without_retries_a_down_server_is_an_httpx_error(server):
    server.stop()
    never = Client(server.base_url, api_key=WRITE_KEY, retry=None)
    with never, pytest.raises(httpx.ConnectError):
        never.get_session(uuid.uuid4())
    with Client(server.base_url, api_key=WRITE_KEY, retry=Retry(seconds=0.5)) as client:
        began = time.monotonic()
        with pytest.raises(httpx.ConnectError):
            client.get_session(uuid.uuid4())
        assert 0.5 <= time.monotonic() - began < 5


def test_the_async_client_has_the_same_operations(server):
    async def scenario():
        async with AsyncClient(server.base_url, api_key=WRITE_KEY) as client:
            session = await client.create_session("agent_run")
            await client.append_events(session.id, [{"event_type": "log"} for _ in range(30)])
            seqs = [e.seq async for e in client.iter_events(session.id, per_page=7)]
            await client.update_session(session.id, status="completed")
            ended = await client.wait_until_finished(session.id, timeout=5)
            with pytest.raises(Refused):
                await client.update_session(session.id, status="in_progress")
            return seqs, ended.status

    seqs, status = asyncio.run(scenario())
    assert seqs == list(range(30, 0, -1))
    assert status == "completed"


def test_waiting_on_a_server_that_is_gone_ends_by_its_timeout(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        server.stop()
        began = time.monotonic()
        with pytest.raises((TimeoutError, httpx.TransportError)):
            client.wait_until_finished(session.id, timeout=2)
        assert time.monotonic() - began < 8  # not the 30 s the retries alone would allow


def test_a_base_url_of_the_api_itself_is_the_server_for_both_clients(server):
    api = server.base_url + "/api/v2/"
    with Client(api, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        assert client.get_session(session.id).id == session.id
        assert [e.seq for e in client.iter_events(session.id)] == []

    async def scenario():
        async with AsyncClient(api, api_key=WRITE_KEY) as client:
            return (await client.get_session(session.id)).id

    assert asyncio.run(scenario()) == session.id


def test_list_sessions_takes_the_listings_filters(client):
    build = client.create_session("build", "/repos/petclinic")
    client.append_events(build.id, [{"event_type": "log", "message": "Compiling 100% done"}])
    client.create_session("agent", "/repos/petclinic")
    client.create_session("build", "/repos/other")

    page = client.list_sessions(
        session_type=["build"],
        project_path="/repos/pet",
        created_after=build.created_at,
        created_before=datetime.now(UTC) + timedelta(hours=1),
        q="100%",
        per_page=5,
    )

    assert [s.id for s in page.items] == [build.id]
    assert page.items[0].last_message == "Compiling 100% done"
    assert page.status_counts.pending == 1
