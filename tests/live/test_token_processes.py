"""A revocation made through one server process holds on another serving the same database
within a second, as the issue asks: its requests are refused and its stream opened with the
token ends with `event: auth_expired`."""

from __future__ import annotations

import asyncio
import time

import httpx

from session_events.tokens import REVOKED
from tests.conftest import TOKEN_SECRET, WRITE
from tests.live.conftest import SESSIONS
from tests.live.sse import sse_messages


async def test_a_revocation_through_one_process_holds_on_another_within_a_second(live_server):
    one, other = (live_server(EVENTS_TOKEN_SECRETS=TOKEN_SECRET) for _ in range(2))
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            one.base_url + SESSIONS,
            json={"session_type": "build", "tokens": ["read"]},
            headers=WRITE,
        )
        session, [token] = created.json(), created.json()["tokens"]
        bearer = {"Authorization": f"Bearer {token['token']}"}
        there = f"{other.base_url}{SESSIONS}/{session['id']}"
        assert (await http.get(there, headers=bearer)).status_code == 200  # known good there

        opened = asyncio.Event()

        async def stream() -> list[dict]:
            messages = []
            async with http.stream("GET", f"{there}/events/stream", headers=bearer) as response:
                assert response.status_code == 200
                async for message in sse_messages(response):
                    messages.append(message)
                    opened.set()  # its first message (retry): the token was taken
            return messages

        streaming = asyncio.create_task(stream())
        await asyncio.wait_for(opened.wait(), 5)
        revoke = f"{one.base_url}{SESSIONS}/{session['id']}/tokens/{token['id']}"
        assert (await http.delete(revoke, headers=WRITE)).status_code == 204
        revoked_at = time.monotonic()
        while (answer := await http.get(there, headers=bearer)).status_code == 200:
            assert time.monotonic() - revoked_at < 1, "the other process still takes the token"
        assert answer.status_code == 401 and answer.json()["detail"] == REVOKED
        messages = await asyncio.wait_for(streaming, 5)
        assert messages[-1]["event"] == "auth_expired"
        assert messages[-1]["data"]["detail"] == REVOKED
