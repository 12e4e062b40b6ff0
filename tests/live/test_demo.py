"""The demo behaves like real runs; serve's made-up write key survives a restart of `make run`."""

from __future__ import annotations

import asyncio
import random
import re
import stat

import httpx

from session_events.demo import DEMO_SESSION, REQUIRED_COVERAGE, run_demos, workflow_events
from support.live_server import WRITE_KEY, LiveServer


async def test_demo_runs_start_run_and_end_one_after_another(live_server):
    server = live_server()
    api = f"{server.base_url}/api/v2/sessions"
    headers = {"X-API-Key": WRITE_KEY}
    async with httpx.AsyncClient(headers=headers) as client:
        left = (await client.post(api, json=DEMO_SESSION)).json()["id"]  # cut off by a stop
        await client.patch(f"{api}/{left}", json={"status": "in_progress"})
        runs: list[str] = []
        demo = asyncio.create_task(
            run_demos(server.base_url, WRITE_KEY, lambda sid, _n: runs.append(sid), interval=0.005)
        )
        try:
            async with asyncio.timeout(60):
                while len(runs) < 2:
                    await asyncio.sleep(0.05)
        finally:
            demo.cancel()
        assert (await client.get(f"{api}/{left}")).json()["status"] == "cancelled"
        first = (await client.get(f"{api}/{runs[0]}")).json()
        assert first["status"] in ("completed", "failed")
        events = f"{api}/{runs[0]}/events"
        oldest = (await client.get(events, params={"order": "asc", "per_page": 3})).json()["items"]
        newest = (await client.get(events, params={"per_page": 2})).json()["items"]
        assert [e["event_type"] for e in oldest[:2]] == ["status_changed", "workflow_started"]
        assert oldest[0]["event_data"]["new_status"] == "in_progress"
        ending = ["status_changed", f"workflow_{first['status']}"]
        assert [e["event_type"] for e in newest] == ending
        assert newest[0]["event_data"]["new_status"] == first["status"]


def test_the_made_keys_are_kept_beside_the_embedded_database(tmp_path):
    def start() -> tuple[LiveServer, str]:
        server = LiveServer(
            "", tmp_path / "serve.log", cwd=tmp_path, EVENTS_READ_KEYS="", EVENTS_WRITE_KEYS=""
        )
        server.start()
        output = server.output_once_it_shows("X-API-Key:")
        return server, re.search(r"X-API-Key: (\S+)", output).group(1)

    server, key = start()
    sessions = f"{server.base_url}/api/v2/sessions"
    made = httpx.post(
        sessions, json={"session_type": "b", "tokens": ["read"]}, headers={"X-API-Key": key}
    ).json()
    first = server.output()
    server.stop()
    assert "keys were made and kept in .data/" in first
    assert "session tokens are signed with .data/token-secret" in first
    secret = tmp_path / ".data" / "token-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) >= 32
    read_key = re.search(r"read:  X-API-Key: (\S+)  \(.data/read-key\)", first).group(1)
    for name, value in (("write-key", key), ("read-key", read_key)):
        kept = tmp_path / ".data" / name
        assert kept.read_text().strip() == value
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    server, again = start()
    try:
        assert again == key
        assert "using the keys kept in .data/" in server.output()
        sessions = f"{server.base_url}/api/v2/sessions"
        assert httpx.get(sessions, headers={"X-API-Key": key}).status_code == 200
        assert httpx.get(sessions, headers={"X-API-Key": read_key}).status_code == 200
        # A token of the first start is still good: its secret was kept.
        bearer = {"Authorization": f"Bearer {made['tokens'][0]['token']}"}
        assert httpx.get(f"{sessions}/{made['id']}", headers=bearer).status_code == 200
        refused = httpx.post(sessions, json={"session_type": "b"}, headers={"X-API-Key": read_key})
        assert refused.status_code == 403
        unknown = httpx.get(sessions, headers={"X-API-Key": "dev-read-key"})
        assert unknown.json()["detail"] == (
            "The X-API-Key sent is not a known key; this server's keys are in .data/write-key "
            "and .data/read-key, printed when it started."
        )
    finally:
        server.stop()


def test_a_demo_run_fails_only_under_the_coverage_it_requires():
    endings = []
    for seed in range(200):
        *_, last = workflow_events(random.Random(seed))
        endings.append(last)
    for last in endings:
        coverage = last["event_data"]["coverage"]
        if last["event_type"] == "workflow_failed":
            assert coverage < last["event_data"]["required"], last["message"]
        else:
            assert coverage >= REQUIRED_COVERAGE, last["message"]
    assert {last["event_type"] for last in endings} == {"workflow_failed", "workflow_completed"}
