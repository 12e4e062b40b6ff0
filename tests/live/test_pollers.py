"""Pollers against a session that four producers are filling, through a real server process.

Each poller must end with exactly the 1,000 events, each once, in seq order, and must never see
an event while one with a lower seq is still missing (a gap would mean it saw a later commit
before an earlier one, and a cursor poller would skip the earlier event forever).
"""

from __future__ import annotations

import asyncio
import random
import re

import httpx
import pytest

from tests.conftest import READ, WRITE

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)

WRITERS = 4
EVENTS_PER_WRITER = 250
TOTAL = WRITERS * EVENTS_PER_WRITER
TIMEOUT = 120


def next_link(response: httpx.Response) -> str | None:
    match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return match.group(1) if match else None


class Poller:
    def __init__(self, http: httpx.AsyncClient, events_url: str, name: str):
        self.http, self.events_url, self.name = http, events_url, name
        self.seen: list[int] = []
        self.not_modified = 0

    def take(self, events: list[dict]) -> None:
        for event in events:
            assert event["seq"] == len(self.seen) + 1, (
                f"{self.name} got seq {event['seq']} after {len(self.seen)}: a gap or a repeat"
            )
            self.seen.append(event["seq"])

    async def get(self, url: str, **kwargs) -> httpx.Response:
        response = await self.http.get(url, headers={**READ, **kwargs.pop("headers", {})}, **kwargs)
        assert response.status_code in (200, 304), response.text
        return response

    async def by_cursor(self) -> None:
        """after_seq=<last seen>&order=asc, following next links while has_next."""
        while len(self.seen) < TOTAL:
            url = f"{self.events_url}?after_seq={len(self.seen)}&order=asc&per_page=100"
            while url:
                response = await self.get(url)
                self.take(response.json()["items"])
                url = next_link(response)
            await asyncio.sleep(0.01)

    async def by_since(self) -> None:
        """since=<newest timestamp seen>, newest first, following next links (pinned until_seq)."""
        since = None
        while len(self.seen) < TOTAL:
            query = {"per_page": 50, **({"since": since} if since else {})}
            response = await self.get(self.events_url, params=query)
            batch = response.json()["items"]
            while url := next_link(response):  # the links carry since and pin until_seq
                response = await self.get(url)
                batch += response.json()["items"]
            batch.sort(key=lambda event: event["seq"])
            self.take(batch)
            if batch:
                since = batch[-1]["timestamp"]
            await asyncio.sleep(0.01)

    async def by_etag(self) -> None:
        """One URL per cursor position, revalidated with If-None-Match."""
        etag = None
        while len(self.seen) < TOTAL:
            url = f"{self.events_url}?after_seq={len(self.seen)}&order=asc&per_page=100"
            response = await self.get(url, headers={"If-None-Match": etag} if etag else {})
            if response.status_code == 304:
                self.not_modified += 1
            else:
                self.take(response.json()["items"])
                etag = response.headers["ETag"]  # matches only while the cursor stays put
            await asyncio.sleep(0.01)
        # Caught up: the same question now gets 304 until something is appended.
        url = f"{self.events_url}?after_seq={TOTAL}&order=asc&per_page=100"
        etag = (await self.get(url)).headers["ETag"]
        response = await self.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 304
        self.not_modified += 1


async def test_four_pollers_each_get_all_1000_events_once_in_order(live_server):
    server = live_server()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        created = await http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
        events_url = f"/api/v2/sessions/{created.json()['id']}/events"

        async def writer(number: int) -> None:
            rng = random.Random(number)
            sent = 0
            while sent < EVENTS_PER_WRITER:
                size = min(rng.randint(1, 5), EVENTS_PER_WRITER - sent)
                batch = [
                    {
                        "event_type": "step_status_changed",
                        "event_data": {"w": number, "i": sent + i},
                    }
                    for i in range(size)
                ]
                response = await http.post(events_url, json={"events": batch}, headers=WRITE)
                assert response.status_code == 201, response.text
                sent += size

        pollers = [Poller(http, events_url, name) for name in ("asc-1", "asc-2", "since", "etag")]
        progress = asyncio.wait_for(
            asyncio.gather(
                *(writer(n) for n in range(WRITERS)),
                pollers[0].by_cursor(),
                pollers[1].by_cursor(),
                pollers[2].by_since(),
                pollers[3].by_etag(),
            ),
            TIMEOUT,
        )
        try:
            await progress
        except TimeoutError:
            seen = {poller.name: len(poller.seen) for poller in pollers}
            pytest.fail(f"pollers stuck at {seen}; server log: {server.output()[-3000:]}")
    for poller in pollers:
        assert poller.seen == list(range(1, TOTAL + 1)), poller.name
    assert pollers[3].not_modified >= 1
