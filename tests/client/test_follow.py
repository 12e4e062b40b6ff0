"""follow(): every event after the cursor, in order, each once, across a server restart, with
the listing's long-poll where no stream can be had; it ends when the session does."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from session_events_client import Client, Refused

from support.live_server import WRITE_KEY


def produce(client: Client, session_id, batches: int, pause: float = 0.02) -> None:
    """Appends batches of 5 events, then completes the session."""
    client.update_session(session_id, status="in_progress")  # seq 1
    for n in range(batches):
        client.append_events(session_id, [{"event_type": "log", "message": f"{n}"}] * 5)
        time.sleep(pause)
    client.update_session(session_id, status="completed")


def test_follow_yields_every_event_once_in_order_and_ends_with_the_session(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        producer = threading.Thread(target=produce, args=(client, session.id, 40))
        producer.start()
        seqs = [event.seq for event in client.follow(session.id)]
        producer.join()
    assert seqs == list(range(1, 40 * 5 + 3))  # status change, 200 events, status change


def test_follow_rides_over_a_server_restart(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        client.append_events(session.id, [{"event_type": "log"}] * 10)
        seqs = []

        def restart_then_produce():
            while len(seqs) < 10:
                time.sleep(0.01)
            server.stop()  # SIGTERM: the stream ends, then nothing answers for a while
            time.sleep(1)
            server.start()
            produce(client, session.id, 10)

        restarting = threading.Thread(target=restart_then_produce)
        restarting.start()
        for event in client.follow(session.id):
            seqs.append(event.seq)
        restarting.join()
    assert seqs == list(range(1, 10 + 1 + 50 + 2))


def test_follow_from_a_cursor_and_of_some_types(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        client.append_events(session.id, [{"event_type": t} for t in ["a", "b", "a", "b", "a"]])
        client.update_session(session.id, status="cancelled")
        seqs = [e.seq for e in client.follow(session.id, after_seq=1, event_types=["a"])]
    assert seqs == [3, 5]


def refusing_streams(base_url: str) -> httpx.Client:
    """A proxy that refuses event streams (501) and passes the rest on: the one stand-in in
    these tests, since no such proxy is at hand."""
    upstream = httpx.HTTPTransport()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events/stream"):
            return httpx.Response(501, text="streams are not passed on here")
        return upstream.handle_request(request)

    transport = httpx.MockTransport(handle)
    return httpx.Client(base_url=base_url, headers={"X-API-Key": WRITE_KEY}, transport=transport)


def test_without_a_stream_follow_long_polls(server):
    with refusing_streams(server.base_url) as http, Client(http=http) as client:
        session = client.create_session("build")
        producer = threading.Thread(target=produce, args=(client, session.id, 10, 0.1))
        producer.start()
        seqs = [event.seq for event in client.follow(session.id)]
        producer.join()
    assert seqs == list(range(1, 10 * 5 + 3))


def test_following_a_missing_session_is_refused(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client, pytest.raises(Refused) as refused:
        list(client.follow("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"))
    assert refused.value.status == 404
