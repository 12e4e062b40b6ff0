"""How streams end, through a real server process on both backends: with their session (never
carrying on into another made under the same id), within a second of their client leaving,
and never in a traceback (issue 22's reproductions of the streams)."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid

import httpx
import pytest

from session_events.db import sessions as db_sessions
from session_events.db.engine import open_database
from session_events.settings import Settings
from support.processes import rss_mb
from tests.conftest import WRITE
from tests.live.conftest import SESSIONS, new_session
from tests.live.raw_http import READ_KEY, connect, reset


def append(server, session_id: str, count: int, message: str = "") -> None:
    events = [{"event_type": "tick", "message": message}] * count
    response = httpx.post(
        f"{server.base_url}{SESSIONS}/{session_id}/events", json={"events": events}, headers=WRITE
    )
    assert response.status_code == 201, response.text


def open_streams(server, session_id: str, count: int) -> list[socket.socket]:
    streams = []
    for _ in range(count):
        sock = connect(server)
        path = f"{SESSIONS}/{session_id}/events/stream"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nX-API-Key: {READ_KEY}\r\n\r\n".encode())
        streams.append(sock)
    return streams


def read_to_end(sock: socket.socket, timeout: float = 10) -> tuple[bytes, bool]:
    """What the stream sends until it ends (its last chunk) or `timeout` passes; and whether it
    ended."""
    sock.settimeout(0.5)
    data, deadline = b"", time.monotonic() + timeout
    while not data.endswith(b"0\r\n\r\n") and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    return data, data.endswith(b"0\r\n\r\n")


def ids(data: bytes) -> list[int]:
    return [int(n) for n in re.findall(rb"^id: (\d+)$", data, re.MULTILINE)]


def open_stream_count(server, kind: str = "stream") -> float:
    metrics = httpx.get(f"{server.base_url}/metrics").text
    return float(re.search(rf'testboost_active_connections{{kind="{kind}"}} (\S+)', metrics)[1])


async def delete_and_make_again(database_url: str, session_id: str) -> None:
    """Delete the session and make a new one under its id in one transaction: the moment a
    stream woken by the deletion reads only after the new session exists (a race the API
    alone loses only sometimes), made certain."""
    database = open_database(Settings(database_url=database_url))
    try:
        async with database.write() as conn:
            assert await db_sessions.delete_session(conn, uuid.UUID(session_id)) == 10
            await db_sessions.create_session(
                conn, session_type="build", session_id=uuid.UUID(session_id)
            )
    finally:
        await database.dispose()


def test_a_stream_ends_with_its_session_and_never_follows_one_made_under_its_id(
    server, database_url
):
    session_id = new_session(server)
    append(server, session_id, 10)
    streams = open_streams(server, session_id, 20)
    time.sleep(1)  # every stream has replayed the 10 and waits
    asyncio.run(delete_and_make_again(database_url, session_id))
    append(server, session_id, 15)  # the new session's 1..15
    for sock in streams:
        with sock:
            data, ended = read_to_end(sock)
        assert ids(data) == list(range(1, 11))
        assert ended and b": the session was deleted" in data


def test_streams_end_within_a_second_of_their_clients_closing(server):
    session_id = new_session(server)
    streams = open_streams(server, session_id, 50)
    for sock in streams:
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # read: so close sends FIN, not RST
    assert open_stream_count(server) == 50
    for sock in streams:
        sock.close()
    closed = time.monotonic()
    while open_stream_count(server) and time.monotonic() - closed < 5:
        time.sleep(0.05)
    assert open_stream_count(server) == 0
    assert time.monotonic() - closed < 1


def test_long_polls_end_within_a_second_of_their_clients_closing(server):
    session_id = new_session(server)
    polls = []
    for _ in range(20):
        sock = connect(server)
        path = f"{SESSIONS}/{session_id}/events?wait=30"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nX-API-Key: {READ_KEY}\r\n\r\n".encode())
        polls.append(sock)
    deadline = time.monotonic() + 5
    while open_stream_count(server, "long_poll") < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_stream_count(server, "long_poll") == 20
    for sock in polls:
        sock.close()
    closed = time.monotonic()
    while open_stream_count(server, "long_poll") and time.monotonic() - closed < 5:
        time.sleep(0.05)
    assert open_stream_count(server, "long_poll") == 0
    assert time.monotonic() - closed < 1


def test_clients_that_leave_while_their_streams_replay_leave_nothing_in_the_log(server):
    session_id = new_session(server)
    for _ in range(10):
        append(server, session_id, 1000, message="x" * 200)
    for _ in range(2):
        for number, sock in enumerate(open_streams(server, session_id, 25)):
            with sock:  # reads part of the 2.5 MB replay, then leaves while the server reads on
                sock.settimeout(10)
                received = 0
                while received < 1000 + number * 80_000 and (chunk := sock.recv(65536)):
                    received += len(chunk)
    # What asyncio says of a task it destroys, it says when the task is collected: wait for it.
    output = server.output_once_it_shows("Task was destroyed", timeout=3)
    assert "Task was destroyed" not in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert open_stream_count(server) == 0


def wait_for_no_streams(server, within: float) -> float:
    """Seconds until the server counts no open stream (failing after `within`)."""
    started = time.monotonic()
    while open_stream_count(server) and time.monotonic() - started < within + 5:
        time.sleep(0.05)
    assert open_stream_count(server) == 0
    elapsed = time.monotonic() - started
    assert elapsed < within, elapsed
    return elapsed


def big_session(server, events: int = 5000, size: int = 2000) -> str:
    """A session whose replay is far more than a socket's buffers hold."""
    session_id = new_session(server)
    per_batch = min(1000, 3_000_000 // (size + 200))  # within the body limit
    for start in range(0, events, per_batch):
        append(server, session_id, min(per_batch, events - start), message="p" * size)
    return session_id


def test_a_stream_whose_client_half_closed_and_stopped_reading_ends(server):
    session_id = big_session(server)
    [sock] = open_streams(server, session_id, 1)
    with sock:
        time.sleep(1)  # the server's writes wait for a client that reads nothing
        sock.shutdown(socket.SHUT_WR)
        wait_for_no_streams(server, within=3)  # STALLED_SECONDS, and the check's own pace


@pytest.mark.parametrize("later", [False, True], ids=["sent together", "sent later"])
def test_a_stream_with_a_request_pipelined_behind_it_ends_at_a_reset(server, later):
    """uvicorn marks only the newest request of a lost connection, and stops reading while one
    waits its turn: the stream running before it must hear of the reset all the same."""
    session_id = new_session(server)
    append(server, session_id, 2)
    head = f"HTTP/1.1\r\nHost: t\r\nX-API-Key: {READ_KEY}\r\n\r\n"
    stream = f"GET {SESSIONS}/{session_id}/events/stream {head}".encode()
    behind = f"GET {SESSIONS}/{session_id} {head}".encode()
    with connect(server) as sock:
        sock.sendall(stream if later else stream + behind)
        if later:
            time.sleep(0.5)  # the stream has started, and waits on its client
            sock.sendall(behind)
        time.sleep(0.5)
        assert open_stream_count(server) == 1
        reset(sock)
    wait_for_no_streams(server, within=1)
    append(server, session_id, 1)  # a write to where the stream was: nothing to log
    time.sleep(0.5)
    output = server.output()
    assert "Traceback" not in output and "never awaited" not in output, output[-3000:]


def test_a_server_stopping_does_not_wait_on_a_stream_nobody_reads(server):
    session_id = big_session(server)
    [sock] = open_streams(server, session_id, 1)
    with sock:
        time.sleep(1)
        stopping = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=30)
        assert time.monotonic() - stopping < 5
    output = server.output()
    assert "Traceback" not in output and "graceful shutdown exceeded" not in output, output[-3000:]


def test_streams_whose_clients_read_nothing_hold_little_memory(server):
    """A stream reads its replay in batches of about a megabyte (not 500 events, whatever their
    size), so a client that stops reading pins that much, not the session."""
    session_id = big_session(server, events=2000, size=100_000)  # 200 MB of messages
    before = rss_mb(server.process.pid)
    streams = open_streams(server, session_id, 5)
    time.sleep(3)  # each has written what the socket buffers take, and waits
    grown = rss_mb(server.process.pid) - before
    for sock in streams:
        reset(sock)
    assert grown < 150, f"{grown:.0f} MB for five stalled streams"
