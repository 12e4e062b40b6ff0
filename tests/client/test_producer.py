"""Producers against a live server, on both databases: every emitted event stored exactly once,
in order, through batching by count and age, several threads, and a server killed mid-run."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from pydantic import ValidationError
from session_events_client import AsyncClient, Client, Invalid, Refused

from support.live_server import WRITE_KEY


def stored(client: Client, session_id) -> list:
    return list(client.iter_events(session_id, order="asc", per_page=100))


def test_events_from_several_threads_are_stored_once_each_in_their_order(client):
    session = client.create_session("build")
    with client.producer(session.id, batch_size=50) as producer:

        def emit(thread: int) -> None:
            for n in range(250):
                producer.emit("log", message=f"{thread}:{n}", event_data={"n": n})

        threads = [threading.Thread(target=emit, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    events = stored(client, session.id)
    assert producer.stored == len(events) == 1000
    assert [e.seq for e in events] == list(range(1, 1001))
    for thread in range(4):
        mine = [int(e.message.split(":")[1]) for e in events if e.message.startswith(f"{thread}:")]
        assert mine == list(range(250))


def test_a_lone_event_is_sent_once_it_is_old_enough(client):
    session = client.create_session("build")
    with client.producer(session.id, max_delay=0.1) as producer:
        producer.emit("log", message="alone")
        deadline = time.monotonic() + 5
        while producer.stored == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert producer.stored == 1  # before the exit sent it
    assert [e.message for e in stored(client, session.id)] == ["alone"]


def test_a_server_killed_and_restarted_mid_run_loses_and_doubles_nothing(server, client):
    session = client.create_session("build")
    emitted = 3000

    def kill_and_restart() -> None:
        time.sleep(0.5)
        server.process.kill()  # SIGKILL: batches in flight are cut off
        server.process.wait()
        time.sleep(0.5)
        server.start()

    crash = threading.Thread(target=kill_and_restart)
    with client.producer(session.id, batch_size=20) as producer:
        crash.start()
        for n in range(emitted):
            producer.emit("log", message=str(n))
            time.sleep(0.0005)
    crash.join()
    events = stored(client, session.id)
    assert [int(e.message) for e in events] == list(range(emitted))
    assert [e.seq for e in events] == list(range(1, emitted + 1))


def test_a_refused_batch_stops_the_producer(client):
    with pytest.raises(Refused) as at_exit, client.producer(uuid.uuid4(), max_delay=0.01) as p:
        p.emit("log")
        time.sleep(0.5)  # the first batch is refused by now
        with pytest.raises(Refused) as at_emit:
            p.emit("log")
    assert at_emit.value.status == at_exit.value.status == 404


def test_a_bad_event_fails_its_emit_and_a_producer_needs_its_with_block(client):
    session = client.create_session("build")
    producer = client.producer(session.id)
    with pytest.raises(RuntimeError, match="with-block"):
        producer.emit("log")  # it would never be sent
    data = {"n": 1}
    with producer:
        with pytest.raises(Invalid) as invalid:
            producer.emit("Not-A-Type")
        producer.emit("log", event_data=data, step_id=uuid.uuid4())
        data["n"] = 2  # emitted already: this changes nothing
    (event,) = stored(client, session.id)
    assert event.event_data == {"n": 1}
    # what the server would have said, as the library says a server's refusal
    assert isinstance(invalid.value, Refused) and isinstance(invalid.value, ValueError)
    assert (invalid.value.status, invalid.value.title) == (400, "Bad Request")
    assert invalid.value.detail == 'event_type must match the pattern ^[a-z_]+$ (got "Not-A-Type").'
    assert isinstance(invalid.value.__cause__, ValidationError)


def test_the_async_producer(server):
    async def scenario():
        async with AsyncClient(server.base_url, api_key=WRITE_KEY) as client:
            session = await client.create_session("agent_run")
            async with client.producer(session.id, batch_size=64) as producer:
                for n in range(500):
                    producer.emit("llm_call", message=str(n))
                    if n % 100 == 0:
                        await asyncio.sleep(0)
            return [int(e.message) async for e in client.iter_events(session.id, order="asc")]

    assert asyncio.run(scenario()) == list(range(500))
