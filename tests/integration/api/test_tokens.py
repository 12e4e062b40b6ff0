"""Minting and revoking session tokens, on both databases, through the app in process: what a
token minted with a token may be, what revoking one takes with it, the bound on live tokens."""

from __future__ import annotations

from datetime import datetime

import jwt

from session_events.handlers.tokens import MOST_LIVE_TOKENS
from tests.conftest import READ, WRITE
from tests.integration.api.api_helpers import SESSIONS, new_session


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def mint(client, session_id: str, headers: dict, **body) -> dict:
    response = client.post(
        f"{SESSIONS}/{session_id}/tokens", json={"scope": "read", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def reads(client, session_id: str, token: str) -> int:
    return client.get(f"{SESSIONS}/{session_id}", headers=bearer(token)).status_code


def test_a_token_minted_with_a_token_ends_no_later_and_is_revoked_with_it(client):
    session_id = new_session(client)
    parent = mint(client, session_id, READ, ttl_seconds=600)
    child = mint(client, session_id, bearer(parent["token"]), ttl_seconds=86400)
    grandchild = mint(client, session_id, bearer(child["token"]))
    sibling = mint(client, session_id, READ)
    assert child["expires_at"] == parent["expires_at"]  # capped at its minter's expiry
    exp = jwt.decode(child["token"], options={"verify_signature": False})["exp"]
    assert datetime.fromisoformat(child["expires_at"]).timestamp() == exp
    assert {reads(client, session_id, t["token"]) for t in (child, grandchild)} == {200}

    url = f"{SESSIONS}/{session_id}/tokens/{parent['id']}"
    assert client.delete(url, headers=WRITE).status_code == 204
    for revoked in (parent, child, grandchild):
        assert reads(client, session_id, revoked["token"]) == 401
    assert reads(client, session_id, sibling["token"]) == 200
    assert client.delete(url, headers=WRITE).status_code == 204  # again: nothing changes


def test_revoking_a_token_in_the_middle_spares_its_minter(client):
    session_id = new_session(client)
    parent = mint(client, session_id, READ)
    child = mint(client, session_id, bearer(parent["token"]))
    grandchild = mint(client, session_id, bearer(child["token"]))
    url = f"{SESSIONS}/{session_id}/tokens/{child['id']}"
    assert client.delete(url, headers=WRITE).status_code == 204
    assert reads(client, session_id, parent["token"]) == 200
    assert reads(client, session_id, grandchild["token"]) == 401


def test_a_token_of_another_session_or_none_is_a_404_naming_both(client):
    session_id, other = new_session(client), new_session(client)
    theirs = mint(client, other, READ)
    url = f"{SESSIONS}/{session_id}/tokens/{theirs['id']}"
    response = client.delete(url, headers=WRITE)
    assert response.status_code == 404
    assert f"Session {session_id} has no token {theirs['id']}" in response.json()["detail"]
    assert reads(client, other, theirs["token"]) == 200


def test_a_session_holds_a_bounded_number_of_live_tokens(client):
    session_id = new_session(client)
    first = mint(client, session_id, WRITE)
    for _ in range(MOST_LIVE_TOKENS - 1):
        mint(client, session_id, WRITE)
    refused = client.post(f"{SESSIONS}/{session_id}/tokens", json={"scope": "read"}, headers=READ)
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(
        f"Session {session_id} holds {MOST_LIVE_TOKENS} live tokens"
    )
    url = f"{SESSIONS}/{session_id}/tokens/{first['id']}"
    assert client.delete(url, headers=WRITE).status_code == 204
    mint(client, session_id, WRITE)  # a revoked one no longer counts


def test_a_session_made_again_under_its_id_refuses_the_first_ones_tokens(client):
    session_id = new_session(client)
    token = mint(client, session_id, READ)["token"]
    assert client.delete(f"{SESSIONS}/{session_id}", headers=WRITE).status_code == 204
    new_session(client, id=session_id)
    response = client.get(f"{SESSIONS}/{session_id}", headers=bearer(token))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
