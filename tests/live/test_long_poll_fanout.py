"""200 long-polls held on one session through a real server process, on both backends (issue
24): one append answers every one of them with its event, once, and nothing else."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import READ
from tests.live.conftest import SESSIONS, no_traceback
from tests.live.fanout import TIMEOUT, Producer, new_session, open_count

pytestmark = pytest.mark.topology  # on a replica and PgBouncer too (tests/conftest.py)

POLLS = 200


async def test_two_hundred_long_polls_are_each_answered_with_the_next_event_once(live_server):
    server = live_server()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT, limits=limits) as http:
        session_id = await new_session(http)
        producer = Producer(http, session_id)
        await producer.append("before", "before", "before")
        last = producer.last_seq
        url = f"{SESSIONS}/{session_id}/events?wait=20&after_seq={last}&order=asc"
        polls = [asyncio.create_task(http.get(url, headers=READ)) for _ in range(POLLS)]
        async with asyncio.timeout(TIMEOUT):
            while await open_count(http, "long_poll") < POLLS:
                assert not [poll for poll in polls if poll.done()], "a poll was answered early"
                await asyncio.sleep(0.05)
        [event] = await producer.append("next")
        assert event["seq"] == last + 1
        for response in await asyncio.gather(*polls):
            assert response.status_code == 200, response.text
            assert response.json()["items"] == [event]
        assert await open_count(http, "long_poll") == 0
    no_traceback(server)
