"""The session tokens minted: kept by id (never the token, which is signed, not stored) so that
they can be revoked."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from session_events.db.errors import SessionNotFound, TokenNotFound, TooManyTokens
from session_events.db.sessions import locked
from session_events.db.tables import session_tokens, sessions


async def lock_session(conn: AsyncConnection, session_id: uuid.UUID) -> None:
    """SessionNotFound unless the session exists; it then stays until the transaction ends."""
    query = locked(conn, select(sessions.c.id).where(sessions.c.id == session_id))
    if (await conn.execute(query)).first() is None:
        raise SessionNotFound(session_id)


async def add_token(
    conn: AsyncConnection,
    token_id: uuid.UUID,
    session_id: uuid.UUID,
    scope: str,
    expires_at: datetime,
    minted_by: uuid.UUID | None = None,
) -> None:
    """Keep a token minted for a session the caller has locked (lock_session); `minted_by`:
    the token it was minted with."""
    await conn.execute(
        insert(session_tokens).values(
            id=token_id,
            session_id=session_id,
            scope=scope,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
            minted_by=minted_by,
        )
    )


async def make_room(conn: AsyncConnection, session_id: uuid.UUID, most: int) -> None:
    """TooManyTokens if the session holds `most` tokens neither expired nor revoked."""
    query = select(func.count()).where(
        session_tokens.c.session_id == session_id,
        session_tokens.c.revoked_at.is_(None),
        session_tokens.c.expires_at > datetime.now(UTC),
    )
    if (await conn.execute(query)).scalar_one() >= most:
        raise TooManyTokens(session_id, most)


async def good_tokens(conn: AsyncConnection, token_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `token_ids` that are kept and not revoked (a deleted session's are gone)."""
    query = select(session_tokens.c.id).where(
        session_tokens.c.id.in_(list(token_ids)), session_tokens.c.revoked_at.is_(None)
    )
    return set((await conn.execute(query)).scalars())


async def revoke_token(
    conn: AsyncConnection, session_id: uuid.UUID, token_id: uuid.UUID
) -> list[uuid.UUID]:
    """Revoke one token of the session and those minted with it, and with them, and so on: the
    ids revoked. TokenNotFound if the session has no such token."""
    mine = session_tokens.c.session_id == session_id
    found = await conn.execute(
        select(session_tokens.c.id).where(session_tokens.c.id == token_id, mine)
    )
    if found.first() is None:
        raise TokenNotFound(session_id, token_id)
    revoked, minters = [token_id], [token_id]
    while minters:  # a chain of shares is short
        minted = select(session_tokens.c.id).where(mine, session_tokens.c.minted_by.in_(minters))
        minters = list((await conn.execute(minted)).scalars())
        revoked += minters
    await conn.execute(
        update(session_tokens)
        .where(session_tokens.c.id.in_(revoked), session_tokens.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return revoked


async def revoke_session_tokens(conn: AsyncConnection, session_id: uuid.UUID) -> None:
    await conn.execute(
        update(session_tokens)
        .where(session_tokens.c.session_id == session_id, session_tokens.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def prune_expired(conn: AsyncConnection, before: datetime) -> int:
    """Forget the tokens that expired before `before` (they are refused by their expiry)."""
    result = await conn.execute(delete(session_tokens).where(session_tokens.c.expires_at < before))
    return result.rowcount
