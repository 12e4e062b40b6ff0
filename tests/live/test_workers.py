"""`serve --workers N`: several processes on one port, woken across processes, stopped together."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import READ, WRITE
from tests.live.test_cli import run_cli

WORKERS = 3
LONG_POLLS = 12


def worker_pids(parent: int) -> list[int]:
    """The parent's children that run a worker (multiprocessing also starts a resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    ]


def test_several_workers_need_postgresql(sqlite_url):
    result = run_cli("serve", "--workers", "2", EVENTS_DATABASE_URL=sqlite_url)
    assert result.returncode == 2
    assert "--workers above 1 needs PostgreSQL" in result.stderr


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_workers_share_the_port_wake_each_other_and_stop_on_sigterm(live_server):
    server = live_server("--workers", str(WORKERS))
    pids = worker_pids(server.process.pid)
    assert len(pids) == WORKERS
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        created = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
        events_url = f"/api/v2/sessions/{created.json()['id']}/events"

        # Long-polls on separate connections land on different workers; one append through any
        # worker must wake them all (PostgreSQL NOTIFY reaches every process's listener).
        async def long_poll() -> tuple[int, float]:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as own:
                started = time.monotonic()
                response = await own.get(
                    events_url, params={"after_seq": 0, "wait": 20}, headers=READ
                )
                return response.json()["latest_seq"], time.monotonic() - started

        polls = [asyncio.create_task(long_poll()) for _ in range(LONG_POLLS)]
        await asyncio.sleep(1.5)  # all of them waiting
        appended = await http.post(
            events_url, json={"events": [{"event_type": "tick"}]}, headers=WRITE
        )
        assert appended.status_code == 201
        answers = await asyncio.gather(*polls)
    assert all(latest == 1 for latest, _ in answers)
    assert max(seconds for _, seconds in answers) < 10  # woken, not timed out after 20 s

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
