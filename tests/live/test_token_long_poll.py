"""A long-poll opened with a session token answers nothing its token no longer allows: events
appended after the token was revoked (or after it expired) are not handed over; the poll is a
401 saying which, as a new request with that token would be."""

from __future__ import annotations

import asyncio

import httpx

from session_events.tokens import REVOKED
from tests.conftest import WRITE
from tests.live.conftest import SESSIONS


async def test_a_long_poll_whose_token_is_revoked_meanwhile_hands_over_nothing(server):
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        created = await http.post(
            SESSIONS, json={"session_type": "build", "tokens": ["read"]}, headers=WRITE
        )
        session, [token] = created.json(), created.json()["tokens"]
        events = f"{SESSIONS}/{session['id']}/events"
        bearer = {"Authorization": f"Bearer {token['token']}"}
        poll = asyncio.create_task(http.get(f"{events}?wait=20", headers=bearer))
        await asyncio.sleep(0.5)  # let the poll be let in and start waiting
        assert not poll.done()
        revoked = await http.delete(
            f"{SESSIONS}/{session['id']}/tokens/{token['id']}", headers=WRITE
        )
        assert revoked.status_code == 204
        body = {"events": [{"event_type": "after_revocation", "message": "not for the token"}]}
        assert (await http.post(events, json=body, headers=WRITE)).status_code == 201

        answer = await poll
        assert "after_revocation" not in answer.text
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == REVOKED
