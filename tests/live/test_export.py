"""The events export through a real server process, on both backends: a session of 100,000
events read whole (every line the listing's document, seqs 1..100000 in order) while the
server's memory stays flat; filters; clients that stop reading or leave mid-export; the
database going away mid-export (PostgreSQL, a server of the test's own)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from urllib.parse import urlencode

import httpx
import pytest

from perf.export import STEP, RssSampler, fill_session
from support.live_server import LiveServer
from tests.conftest import BACKENDS, READ, reset_database
from tests.live.conftest import no_traceback
from tests.live.test_outage import TIMEOUTS

EVENTS = 100_000
NDJSON = {**READ, "Accept": "application/x-ndjson"}


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request, sqlite_url, postgres):
    """As tests/conftest.py's, but for the module: the big session is filled once per backend
    and the tests only read it."""
    url = sqlite_url if request.param == "sqlite" else postgres.require()
    asyncio.run(reset_database(url))
    return url


@pytest.fixture(scope="module")
def big_session(database_url) -> str:
    return asyncio.run(fill_session(database_url, EVENTS))


@pytest.fixture
def big(big_session, live_server):
    """A live server and the id of a session of EVENTS events on its database."""
    return live_server(), big_session


def test_a_session_of_100000_events_is_exported_whole_in_flat_memory(big):
    server, session_id = big
    url = f"{server.base_url}/api/v2/sessions/{session_id}/events"
    # Warm: the first requests of a process import and compile what every later one uses.
    httpx.get(f"{url}?per_page=100", headers=READ)
    httpx.get(f"{url}?until_seq=2000", headers=NDJSON)
    sampler = RssSampler(server.process.pid)
    sampler.start()
    body = bytearray()
    with httpx.stream("GET", url, headers=NDJSON, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["x-latest-seq"] == str(EVENTS)
        for chunk in response.iter_raw():
            body += chunk
    peak = sampler.stop()
    assert sampler.samples > 10
    growth_kib = peak - sampler.before
    # Flat: well under the body's size (what holding it, or its documents, would take).
    assert growth_kib * 1024 < len(body) / 4, (growth_kib, len(body))
    lines = bytes(body).split(b"\n")
    assert lines.pop() == b""
    assert len(lines) == EVENTS
    seq = 0
    while seq < EVENTS:  # each line is the listing's document, in order
        page = httpx.get(f"{url}?order=asc&per_page=100&after_seq={seq}", headers=READ).json()
        for event in page["items"]:
            assert json.loads(lines[seq]) == event
            seq += 1
            assert event["seq"] == seq
    no_traceback(server)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"step_id": STEP}, EVENTS // 10),
        ({"q": "timeout"}, EVENTS // 100),
        ({"event_type": "b", "q": "TIMEOUT"}, len(range(0, EVENTS, 100)) // 3),
        ({"after_seq": 99_000, "until_seq": 99_500}, 500),
    ],
)
def test_filters_apply_to_the_export(big, query, count):
    server, session_id = big
    url = f"{server.base_url}/api/v2/sessions/{session_id}/events?{urlencode(query)}"
    response = httpx.get(url, headers=NDJSON, timeout=60)
    documents = [json.loads(line) for line in response.content.splitlines()]
    assert len(documents) == count
    seqs = [d["seq"] for d in documents]
    assert seqs == sorted(seqs)
    if "step_id" in query:
        assert {d["step_id"] for d in documents} == {STEP}
    if "q" in query:
        assert all("timeout" in d["message"].lower() for d in documents)


def raw_export(server: LiveServer, path: str) -> socket.socket:
    """A socket that has asked for an export and read its head and a little of its body."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    head = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {READ['X-API-Key']}\r\n"
        "Accept: application/x-ndjson\r\n\r\n"
    )
    sock.sendall(head.encode())
    received = b""
    while len(received) < 65536:
        received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 ")
    return sock


def test_a_client_that_stops_reading_mid_export_leaves_the_server_healthy(big_session, live_server):
    server = live_server(EVENTS_DB_POOL_SIZE="1", EVENTS_DB_POOL_TIMEOUT="2")
    session_id = big_session
    path = f"/api/v2/sessions/{session_id}/events"
    stalled = raw_export(server, path)  # it reads no more, and keeps its connection
    try:
        # One database connection in the pool: the stalled export holds none of it.
        for _ in range(20):
            listed = httpx.get(f"{server.base_url}{path}?per_page=5", headers=READ)
            assert listed.status_code == 200
        other = httpx.get(f"{server.base_url}{path}?after_seq=99000", headers=NDJSON)
        assert len(other.content.splitlines()) == 1000
    finally:
        stalled.close()
    gone = raw_export(server, path)
    gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    gone.close()  # a reset: the client is gone at once
    time.sleep(1)
    assert httpx.get(f"{server.base_url}/readyz").status_code == 200
    whole = httpx.get(f"{server.base_url}{path}?after_seq=90000", headers=NDJSON, timeout=60)
    assert len(whole.content.splitlines()) == 10_000
    no_traceback(server)


async def test_a_database_outage_mid_export_cuts_the_body_short(own_postgres, tmp_path):
    """The client sees an incomplete body (never a complete-looking one), every line it got is
    right, and the last seq it got is below X-Latest-Seq."""
    url = own_postgres.create_database("export_outage")
    session_id = await fill_session(url, 30_000)
    server = LiveServer(url, tmp_path / "server.log", **TIMEOUTS).start()
    try:
        events_url = f"{server.base_url}/api/v2/sessions/{session_id}/events"
        received = bytearray()
        async with (
            httpx.AsyncClient(timeout=60) as http,
            http.stream("GET", events_url, headers=NDJSON) as response,
        ):
            assert response.status_code == 200
            latest = int(response.headers["x-latest-seq"])
            chunks = response.aiter_raw()
            received += await anext(chunks)
            own_postgres.stop_server()
            with pytest.raises(httpx.RemoteProtocolError):
                async for chunk in chunks:
                    received += chunk
        lines = bytes(received).split(b"\n")[:-1]  # the last line may be cut: left out
        seqs = [json.loads(line)["seq"] for line in lines]
        assert seqs == list(range(1, len(seqs) + 1))
        assert 0 < seqs[-1] < latest == 30_000
        assert "export_cut_short" in server.output()
    finally:
        server.stop()
