"""POST and DELETE /sessions/{session_id}/tokens, DELETE /sessions/{session_id}/tokens/{id}."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from session_events.app_state import database, state
from session_events.db import tokens as db_tokens
from session_events.db.documents import format_timestamp
from session_events.handlers.shapes import json_response
from session_events.security import grant, may_mint
from session_events.tokens import expiry

# Expired tokens are forgotten this long after they expire (they are refused by their expiry).
FORGOTTEN_AFTER = timedelta(days=1)
# A share link's holder may mint more: a bound on what the session keeps.
MOST_LIVE_TOKENS = 1000


async def create_token(session_id, body):
    session_id = uuid.UUID(session_id)
    scope = body["scope"]
    caller = grant()
    may_mint(caller, scope)
    expires_at = expiry(body.get("ttl_seconds", state().token_ttl_seconds))
    if caller.is_token:  # no longer than the token it is minted with
        expires_at = min(expires_at, caller.expires_at)
    async with database().write() as conn:
        await db_tokens.lock_session(conn, session_id)
        await db_tokens.make_room(conn, session_id, MOST_LIVE_TOKENS)
        [token] = await mint(conn, session_id, [scope], expires_at, caller.token_id)
    return json_response(token, 201)


async def mint(
    conn, session_id: uuid.UUID, scopes, expires_at: datetime, minted_by: uuid.UUID | None = None
) -> list[dict]:
    """Tokens of `scopes` for a session the caller has locked, as the contract's Token;
    `minted_by`: the token of the request, revoked with them."""
    signer = state().token_signer
    minted = []
    for scope in scopes:
        granted, token = signer.sign(session_id, scope, expires_at)
        await db_tokens.add_token(conn, granted.token_id, session_id, scope, expires_at, minted_by)
        minted.append(
            {
                "id": str(granted.token_id),
                "token": token,
                "scope": scope,
                "session_id": str(session_id),
                "expires_at": format_timestamp(expires_at),
            }
        )
    await db_tokens.prune_expired(conn, datetime.now(UTC) - FORGOTTEN_AFTER)
    return minted


async def revoke_tokens(session_id):
    session_id = uuid.UUID(session_id)
    async with database().write() as conn:
        await db_tokens.lock_session(conn, session_id)
        await db_tokens.revoke_session_tokens(conn, session_id)
    state().revocations.revoked_session(session_id)
    return Response(status_code=204)


async def revoke_token(session_id, token_id):
    session_id, token_id = uuid.UUID(session_id), uuid.UUID(token_id)
    async with database().write() as conn:
        await db_tokens.lock_session(conn, session_id)
        revoked = await db_tokens.revoke_token(conn, session_id, token_id)
    state().revocations.revoked(revoked)
    return Response(status_code=204)
