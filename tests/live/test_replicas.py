"""Reads from a lagging replica (support/pg_topology.py: writes through PgBouncer, LISTEN on the
primary): a client reads its own writes, watchers woken by an append get it while the replica
has not replayed it, and a replica that stops costs no client an error.

The replica's replay is paused where a case needs it behind (pg_wal_replay_pause), so "it has
not replayed the append yet" is certain rather than a race with its 1.5 s delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import httpx
import pytest
from session_events_client import Client

from session_events.db import positions
from support.live_server import LiveServer
from support.pg_topology import Topology
from tests.conftest import READ, WRITE, TopologyOfRun, reset_topology
from tests.live.sse import read_events
from tests.live.test_stream_endings import open_stream_count

SESSIONS = "/api/v2/sessions"
POSITION = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")


@pytest.fixture
def replicated(topology, tmp_path):
    """The run's topology, emptied, and a server on it."""
    found = topology.require()
    asyncio.run(reset_topology(found, TopologyOfRun.DATABASE))
    url = found.primary_url(TopologyOfRun.DATABASE)
    server = LiveServer(url, tmp_path / "server.log", **found.env(TopologyOfRun.DATABASE))
    yield found, server.start()
    server.stop()


@contextlib.contextmanager
def replay_paused(topology):
    topology.replica.psql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        topology.replica.psql("SELECT pg_wal_replay_resume()")


def on_replica(topology, sql: str) -> str:
    return topology.replica.psql(sql, TopologyOfRun.DATABASE)


def new_session(server) -> str:
    response = httpx.post(f"{server.base_url}{SESSIONS}", json={"session_type": "b"}, headers=WRITE)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def append(server, session_id: str, message: str) -> httpx.Response:
    body = {"events": [{"event_type": "log", "message": message}]}
    response = httpx.post(
        f"{server.base_url}{SESSIONS}/{session_id}/events", json=body, headers=WRITE
    )
    assert response.status_code == 201, response.text
    return response


def replicas_in_use(server) -> list[bool]:
    metrics = httpx.get(f"{server.base_url}/metrics").text
    return [
        value == "1.0" for value in re.findall(r"testboost_replica_in_use\{[^}]*\} (\S+)", metrics)
    ]


def test_every_write_answers_the_primary_position_and_reads_with_it_see_the_write(replicated):
    topology, server = replicated
    session_id = new_session(server)
    topology.wait_for_replay()  # the replica has the session, not what follows
    with replay_paused(topology):
        appended = append(server, session_id, "mine")
        position = appended.headers["Events-Position"]
        assert POSITION.match(position)
        events = f"{server.base_url}{SESSIONS}/{session_id}/events"
        stale = httpx.get(events, headers=READ)
        assert stale.status_code == 200 and stale.json()["items"] == []  # the replica's answer
        fresh = httpx.get(events, headers={**READ, "Events-Position": position})
        assert [event["message"] for event in fresh.json()["items"]] == ["mine"]
        assert (
            on_replica(topology, f"SELECT count(*) FROM events WHERE session_id = '{session_id}'")
            == "0"
        )
        changed = httpx.patch(
            f"{server.base_url}{SESSIONS}/{session_id}",
            json={"status": "in_progress"},
            headers=WRITE,
        )
        assert changed.status_code == 200, changed.text
        assert positions.parse(changed.headers["Events-Position"]) > positions.parse(position)
        token = httpx.post(
            f"{server.base_url}{SESSIONS}/{session_id}/tokens",
            json={"scope": "read"},
            headers=WRITE,
        )
        assert POSITION.match(token.headers["Events-Position"])
        assert "Events-Position" not in stale.headers  # reads answer none


def test_a_malformed_position_is_refused_with_a_sentence(replicated):
    _topology, server = replicated
    response = httpx.get(f"{server.base_url}{SESSIONS}", headers={**READ, "Events-Position": "16"})
    assert response.status_code == 400
    assert "Events-Position" in response.json()["detail"]


def test_the_client_reads_its_own_append_through_a_lagging_replica(replicated):
    topology, server = replicated
    with Client(server.base_url, api_key=WRITE["X-API-Key"]) as client:
        session = client.create_session("build")
        topology.wait_for_replay()  # the replica has the session, not what follows
        with replay_paused(topology):
            client.append_events(session.id, [{"event_type": "log", "message": "mine"}])
            assert [event.message for event in client.list_events(session.id).items] == ["mine"]
            assert client.get_session(session.id).event_count == 1
            stale = httpx.get(f"{server.base_url}{SESSIONS}/{session.id}", headers=READ)
            assert stale.json()["event_count"] == 0  # another client, without the position


async def test_a_long_poll_and_a_stream_woken_while_the_replica_lags_get_the_append(replicated):
    topology, server = replicated
    session_id = new_session(server)
    await asyncio.to_thread(topology.wait_for_replay)
    events = f"{server.base_url}{SESSIONS}/{session_id}/events"
    with replay_paused(topology):
        async with httpx.AsyncClient(timeout=30) as http:
            long_poll = asyncio.create_task(
                http.get(events, params={"wait": 20, "order": "asc"}, headers=READ)
            )
            async with http.stream("GET", f"{events}/stream", headers=READ) as stream:
                while open_stream_count(server, "long_poll") < 1 or open_stream_count(server) < 1:
                    await asyncio.sleep(0.05)
                appended_at = time.monotonic()
                await asyncio.to_thread(append, server, session_id, "news")
                streamed = await asyncio.wait_for(read_events(stream, count=1), 20)
                answered = await long_poll
            waited = time.monotonic() - appended_at
        assert [event["data"]["message"] for event in streamed] == ["news"]
        assert [event["message"] for event in answered.json()["items"]] == ["news"]
        assert waited < 20  # woken, not timed out
        # All the while the replica had not replayed the append: the primary answered.
        assert (
            on_replica(topology, f"SELECT count(*) FROM events WHERE session_id = '{session_id}'")
            == "0"
        )


async def test_a_stopped_replica_moves_reads_to_the_primary_without_an_error(replicated):
    topology, server = replicated
    session_id = new_session(server)
    append(server, session_id, "before")
    events = f"{server.base_url}{SESSIONS}/{session_id}/events"
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream("GET", f"{events}/stream", headers=READ) as stream,
    ):
        topology.stop_replica()
        try:
            for n in range(30):
                append(server, session_id, f"after {n}")
                for path in (events, f"{SESSIONS}/{session_id}", SESSIONS):
                    url = path if path.startswith("http") else f"{server.base_url}{path}"
                    response = await http.get(url, headers=READ)
                    assert response.status_code == 200, response.text
                listed = await http.get(events, params={"after_seq": n + 1}, headers=READ)
                assert [e["message"] for e in listed.json()["items"]] == [f"after {n}"]
            streamed = await asyncio.wait_for(read_events(stream, count=31), 20)
            assert [e["data"]["seq"] for e in streamed] == list(range(1, 32))
            assert replicas_in_use(server) == [False]
            ready = httpx.get(f"{server.base_url}/readyz")
            assert ready.status_code == 200
        finally:
            topology.start_replica()
    deadline = time.monotonic() + 30
    while replicas_in_use(server) != [True]:  # back in use once a check finds it well
        assert time.monotonic() < deadline, "the replica never came back into use"
        await asyncio.sleep(0.2)
    assert "Traceback" not in server.output()


def test_a_promoted_replica_is_no_longer_read_from(tmp_path):
    """A topology of its own: promoting its replica cannot be undone."""
    own = Topology(delay=0).start()
    try:
        own.create_database("promoted")
        url = own.primary_url("promoted")
        server = LiveServer(url, tmp_path / "server.log", **own.env("promoted")).start()
        try:
            assert replicas_in_use(server) == [True]
            own.replica.psql("SELECT pg_promote()")
            deadline = time.monotonic() + 30
            while replicas_in_use(server) != [False]:
                assert time.monotonic() < deadline, "the promoted replica is still read from"
                time.sleep(0.2)
            [replica] = httpx.get(f"{server.base_url}/readyz").json()["replicas"]
            assert replica["in_use"] is False and "not a standby" in replica["error"]
            session_id = new_session(server)
            assert httpx.get(f"{server.base_url}{SESSIONS}/{session_id}", headers=READ).is_success
        finally:
            server.stop()
    finally:
        own.stop()
