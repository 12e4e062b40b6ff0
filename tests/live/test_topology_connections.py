"""Eight server processes behind PgBouncer in transaction mode, under concurrent appends and
long-polls: the primary holds no more connections than PgBouncer's pool plus one LISTEN
connection per process (without the pooler it would be up to 8 x (10 + 1 + 1), the last for
the primary's samples the replica checks measure lag against), and every process
answers correctly."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from support.pg_topology import POOL_SIZE
from tests.conftest import READ, WRITE, TopologyOfRun

pytestmark = pytest.mark.parametrize("database_url", ["topology"], indirect=True)

PROCESSES = 8
PRODUCERS_PER_PROCESS = 16  # above the process's pool of 10, so that each opens all of it
EVENTS_PER_PRODUCER = 5
LISTENER = "session-events-listener"  # the application_name of each process's LISTEN connection


class Peak:
    """The most client backends the primary had at any sample, while `watch` runs."""

    def __init__(self, topology):
        self.topology = topology
        self.most = 0
        self.samples = 0

    async def watch(self, done: asyncio.Event) -> None:
        while not done.is_set():
            count = len(await asyncio.to_thread(self.topology.client_backends))
            self.most, self.samples = max(self.most, count), self.samples + 1
            await asyncio.sleep(0.02)


async def produce(base_url: str, session_id: str) -> None:
    # A client of its own, used by this task alone: httpcore 1.0.9's pool may close a
    # connection it has just handed to one task, from another task's pass, once the
    # connection's keep-alive has expired (encode/httpcore#1110); the task then reads a
    # closed socket (httpx.ReadError). CI's load made that happen here, twice.
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(EVENTS_PER_PRODUCER):
            response = await http.post(
                f"{base_url}/api/v2/sessions/{session_id}/events",
                json={"events": [{"event_type": "tick"}]},
                headers=WRITE,
            )
            assert response.status_code == 201, response.text


async def long_poll(http: httpx.AsyncClient, base_url: str, session_id: str) -> list[int]:
    url = f"{base_url}/api/v2/sessions/{session_id}/events?after_seq=0&order=asc&wait=30"
    response = await http.get(url, headers=READ)
    assert response.status_code == 200, response.text
    return [event["seq"] for event in response.json()["items"]]


async def all_seqs(http: httpx.AsyncClient, base_url: str, session_id: str) -> list[int]:
    url = f"{base_url}/api/v2/sessions/{session_id}/events?order=asc&per_page=100"
    response = await http.get(url, headers=READ)
    assert response.status_code == 200, response.text
    return [event["seq"] for event in response.json()["items"]]


async def test_eight_processes_hold_at_most_the_pool_and_a_listener_each(live_server, topology):
    topology = topology.require()
    servers = [live_server(EVENTS_DB_POOL_SIZE="10") for _ in range(PROCESSES)]
    urls = [server.base_url for server in servers]
    async with httpx.AsyncClient(timeout=60) as http:
        sessions = []
        for url in urls:
            created = await http.post(
                f"{url}/api/v2/sessions", json={"session_type": "build"}, headers=WRITE
            )
            assert created.status_code == 201, created.text
            sessions.append(created.json()["id"])
        peak, done = Peak(topology), asyncio.Event()
        watching = asyncio.create_task(peak.watch(done))
        # A long-poll on each process, woken by an append made through another one.
        polls = [
            asyncio.create_task(long_poll(http, url, sessions[(i + 1) % PROCESSES]))
            for i, url in enumerate(urls)
        ]
        await asyncio.sleep(0.5)
        # Each process's producers append to every session, so each process writes to all.
        await asyncio.gather(
            *(
                produce(url, sessions[(i + p) % PROCESSES])
                for (i, url), p in itertools.product(enumerate(urls), range(PRODUCERS_PER_PROCESS))
            )
        )
        woken = await asyncio.wait_for(asyncio.gather(*polls), timeout=60)
        done.set()
        await watching

        assert all(seqs and seqs[0] == 1 for seqs in woken), woken
        assert peak.samples > 0
        assert peak.most <= POOL_SIZE + PROCESSES, peak.most

        # Every backend is one of PgBouncer's server connections or a process's listener.
        backends = topology.client_backends()
        servers_of_bouncer = {
            int(row["remote_pid"])
            for row in topology.bouncer_show("SERVERS")
            if row["database"] == TopologyOfRun.DATABASE
        }
        listeners = {pid for pid, name in backends.items() if name == LISTENER}
        assert len(listeners) == PROCESSES, backends
        assert len(servers_of_bouncer) <= POOL_SIZE
        assert set(backends) <= servers_of_bouncer | listeners, backends
        # And the pool was really shared: the processes held more connections to PgBouncer
        # than PgBouncer held to the primary.
        clients = [
            row
            for row in topology.bouncer_show("CLIENTS")
            if row["database"] == TopologyOfRun.DATABASE
        ]
        assert len(clients) > POOL_SIZE, len(clients)
        print(
            peak.most,
            peak.samples,
            len(backends),
            len(servers_of_bouncer),
            len(clients),
        )

        # Every process answers every session completely (read once the replica caught up).
        await asyncio.to_thread(topology.wait_for_replay)
        per_session = PRODUCERS_PER_PROCESS * EVENTS_PER_PRODUCER
        for url, session_id in itertools.product(urls, sessions):
            assert await all_seqs(http, url, session_id) == list(range(1, per_session + 1))
