"""/metrics of `serve --workers N`: one scrape, in any worker, shows the whole server.

Which worker holds a connection is read from /proc (the process holding the accepted socket), not
from the server's figures, so the tests know what each worker served and fail when a scrape shows
only some workers' figures.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.live_server import LiveServer
from tests.conftest import TopologyOfRun, reset_topology
from tests.live.conftest import new_session
from tests.live.raw_http import READ_KEY, Responses, connect, request
from tests.live.test_workers import worker_pids

WORKERS = 3
EACH = 2  # connections each worker must hold, at least
MORE = 4  # requests sent on each connection after the first
ENDPOINT = "/api/v2/sessions/{session_id}"


class Connection:
    """A keep-alive connection, and the worker that accepted it."""

    def __init__(self, server):
        self.sock = connect(server)
        self.responses = Responses(self.sock)
        self.port = self.sock.getsockname()[1]
        self.worker = 0

    def get(self, path: str, key: str | None = READ_KEY) -> bytes:
        self.sock.sendall(request("GET", path, key))
        status, _, body = self.responses.next()
        assert status == 200, body
        return body

    def open_stream(self, path: str) -> None:
        """Sends a stream's request and reads its head; the stream stays open."""
        self.sock.sendall(request("GET", path, READ_KEY))
        assert self.responses.file.readline().startswith(b"HTTP/1.1 200")
        while self.responses.file.readline() not in (b"\r\n", b""):
            pass


def socket_owners(port: int, pids: list[int]) -> dict[int, int]:
    """The worker holding each connection accepted on `port`, by the client's port."""
    holder = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with_target = os.readlink(fd) if fd.is_symlink() else ""
            if with_target.startswith("socket:["):
                holder[with_target[len("socket:[") : -1]] = pid
    owners = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        _, local, remote, state, *rest = line.split()
        inode = rest[5]
        if int(local.split(":")[1], 16) == port and state == "01" and inode in holder:
            owners[int(remote.split(":")[1], 16)] = holder[inode]
    return owners


def spread(server, pids: list[int], use: Callable[[Connection], object]) -> list[Connection]:
    """Connections, each put to `use` at once (an idle one would meet the keep-alive timeout),
    opened until every worker holds EACH of them."""
    connections: list[Connection] = []
    held = collections.Counter()
    while min(held[pid] for pid in pids) < EACH:
        assert len(connections) < 150, f"the kernel kept handing connections to a few: {held}"
        connection = Connection(server)
        use(connection)
        connection.worker = socket_owners(server.port, pids)[connection.port]
        held[connection.worker] += 1
        connections.append(connection)
    return connections


def figure(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` with these labels in a scrape (0 when there are none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def scrape(server) -> str:
    return httpx.get(f"{server.base_url}/metrics", timeout=10).text


def scrape_once_it_shows(server, name: str, value: float, **labels: str) -> str:
    """A scrape once `name` reads `value` (workers publish their gauges every second); the last
    one after 20 s, for the assertion to show."""
    deadline = time.monotonic() + 20
    while figure(text := scrape(server), name, **labels) != value and time.monotonic() < deadline:
        time.sleep(0.2)
    return text


def metrics_dir(worker: int) -> Path:
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    (entry,) = [item for item in environ if item.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    return Path(entry.partition(b"=")[2].decode())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_scrape_in_any_worker_counts_the_requests_of_all(live_server):
    server = live_server("--workers", str(WORKERS))
    pids = worker_pids(server.process.pid)
    assert len(pids) == WORKERS
    files = metrics_dir(pids[0])
    path = f"/api/v2/sessions/{new_session(server)}"

    def ask(connection: Connection) -> None:
        for _ in range(1 + MORE):
            connection.get(path)

    connections = spread(server, pids, ask)
    for connection in connections:
        connection.sock.close()
    served = collections.Counter(connection.worker for connection in connections)
    served = {pid: count * (1 + MORE) for pid, count in served.items()}
    total = sum(served.values())
    assert max(served.values()) < total  # no one worker's figures make the whole

    scrapes = []  # (worker, text): scraped until each worker has answered one
    while len({worker for worker, _ in scrapes}) < WORKERS:
        assert len(scrapes) < 150, "the kernel kept handing scrapes to a few workers"
        connection = Connection(server)
        text = connection.get("/metrics", key=None).decode()
        scrapes.append((socket_owners(server.port, pids)[connection.port], text))
        connection.sock.close()
    for _, text in scrapes:
        labels = {"endpoint": ENDPOINT, "method": "GET", "status": "200"}
        assert figure(text, "testboost_api_requests_total", **labels) == total
        assert figure(text, "testboost_api_request_duration_seconds_count", **labels) == total

    assert files.parent == Path(tempfile.gettempdir()) and files.is_dir()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert not files.exists()  # removed with the server


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_workers_streams_leave_the_gauges_and_its_counts_stay(live_server):
    """Counters only rise while the server runs (Prometheus reads a drop as a restart and counts
    the whole remaining total again), so what the killed worker served stays counted; its open
    streams ended with it, so they leave the gauge."""
    server = live_server("--workers", str(WORKERS))
    pids = worker_pids(server.process.pid)
    session = f"/api/v2/sessions/{new_session(server)}"

    def watch(connection: Connection) -> None:
        connection.get(session)
        connection.open_stream(f"{session}/events/stream")

    connections = spread(server, pids, watch)
    streams = collections.Counter(connection.worker for connection in connections)
    gauge, kind = "testboost_active_connections", {"kind": "stream"}
    text = scrape_once_it_shows(server, gauge, len(connections), **kind)
    assert figure(text, gauge, **kind) == len(connections)

    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    left = len(connections) - streams[victim]
    text = scrape_once_it_shows(server, gauge, left, **kind)
    assert figure(text, gauge, **kind) == left
    requests = figure(text, "testboost_api_requests_total", endpoint=ENDPOINT, method="GET")
    assert requests == len(connections)  # the victim's first requests among them
    assert f"worker {victim} exited with status -9; 2 serve on" in server.output()
    for connection in connections:
        connection.sock.shutdown(socket.SHUT_RDWR)
        connection.sock.close()


def replica_readings(text: str, name: str) -> dict[str, float]:
    """The worker pid -> value of a replica gauge in a scrape (one replica)."""
    return {
        sample.labels["pid"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_each_live_worker_shows_its_own_view_of_the_replica(topology, tmp_path):
    """Each worker measures the replica and routes to it itself: one reading per live worker
    (a `pid` label), the killed worker's gone; /readyz lists the replica."""
    found = topology.require()
    asyncio.run(reset_topology(found, TopologyOfRun.DATABASE))
    url = found.primary_url(TopologyOfRun.DATABASE)
    env = found.env(TopologyOfRun.DATABASE)
    server = LiveServer(url, tmp_path / "server.log", **env).start("--workers", str(WORKERS))
    try:
        pids = {str(pid) for pid in worker_pids(server.process.pid)}
        in_use, lag = "testboost_replica_in_use", "testboost_replica_lag_seconds"
        deadline = time.monotonic() + 20
        while replica_readings(text := scrape(server), in_use) != dict.fromkeys(pids, 1.0):
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert replica_readings(text, lag).keys() == pids
        assert all(0 <= seconds < 60 for seconds in replica_readings(text, lag).values())
        ready = httpx.get(f"{server.base_url}/readyz").json()
        (replica,) = ready["replicas"]
        assert replica["name"].endswith(f":{found.replica.port}/{TopologyOfRun.DATABASE}")
        assert (replica["in_use"], replica["error"]) == (True, None)

        victim = min(pids)
        os.kill(int(victim), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while replica_readings(text := scrape(server), lag).keys() != pids - {victim}:
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
    finally:
        server.stop()
