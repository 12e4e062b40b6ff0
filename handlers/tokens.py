"""POST and DELETE /sessions/{session_id}/tokens, DELETE /sessions/{session_id}/tokens/{token_id}."""

from __future__ import annotations

from starlette.responses import Response


async def create_token(session_id, body):
    raise NotImplementedError("session tokens are being built")


async def revoke_tokens(session_id):
    return Response(status_code=501)


async def revoke_token(session_id, token_id):
    return Response(status_code=501)
