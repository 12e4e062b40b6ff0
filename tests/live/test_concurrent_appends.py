"""Eight producers appending to one session at once, through a real server process."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from tests.conftest import READ, WRITE

WRITERS = 8
EVENTS_PER_WRITER = 50

pytestmark = pytest.mark.topology


async def test_eight_writers_give_seq_1_to_400_with_increasing_timestamps(live_server):
    server = live_server()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        created = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
        events_url = f"/api/v2/sessions/{created.json()['id']}/events"

        async def writer(number: int) -> list[int]:
            seqs = []
            for i in range(EVENTS_PER_WRITER):
                event = {"event_type": "step_status_changed", "event_data": {"w": number, "i": i}}
                response = await http.post(events_url, json={"events": [event]}, headers=WRITE)
                assert response.status_code == 201, response.text
                seqs.append(response.json()["items"][0]["seq"])
            return seqs

        per_writer = await asyncio.gather(*(writer(n) for n in range(WRITERS)))
        pages = [
            (await http.get(f"{events_url}?per_page=100&page={page}", headers=READ)).json()
            for page in range(1, 5)
        ]

    # Each producer's own events come back in the order it sent them.
    assert all(seqs == sorted(seqs) for seqs in per_writer)
    events = sorted((e for p in pages for e in p["items"]), key=lambda e: e["seq"])
    assert [e["seq"] for e in events] == list(range(1, WRITERS * EVENTS_PER_WRITER + 1))
    stamps = [e["timestamp"] for e in events]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    written = sorted((e["event_data"]["w"], e["event_data"]["i"]) for e in events)
    assert written == [(w, i) for w in range(WRITERS) for i in range(EVENTS_PER_WRITER)]
