"""Queries on sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from db.errors import SessionAlreadyExists
from db.tables import sessions

INITIAL_STATUS = "pending"


async def create_session(
    conn: AsyncConnection,
    *,
    session_type: str,
    session_id: uuid.UUID | None = None,
    project_path: str | None = None,
    config: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> RowMapping:
    """Insert a pending session; SessionAlreadyExists if the chosen id is taken."""
    now = now or datetime.now(UTC)
    values = dict(
        id=session_id or uuid.uuid4(),
        session_type=session_type,
        status=INITIAL_STATUS,
        project_path=project_path,
        config=config or {},
        created_at=now,
        updated_at=now,
        last_seq=0,
        last_event_at=None,
    )
    try:
        row = (
            (await conn.execute(insert(sessions).values(**values).returning(*sessions.c)))
            .mappings()
            .one()
        )
    except IntegrityError:
        raise SessionAlreadyExists(values["id"]) from None
    return row


async def read_session(conn: AsyncConnection, session_id: uuid.UUID) -> RowMapping | None:
    query = select(sessions).where(sessions.c.id == session_id)
    return (await conn.execute(query)).mappings().first()


def _status_filter(status: str | None):
    return [] if status is None else [sessions.c.status == status]


async def list_sessions(
    conn: AsyncConnection, *, status: str | None = None, limit: int, offset: int
) -> list[RowMapping]:
    """Sessions newest first."""
    query = (
        select(sessions)
        .where(*_status_filter(status))
        .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await conn.execute(query)).mappings().all())


async def count_sessions(conn: AsyncConnection, *, status: str | None = None) -> int:
    query = select(func.count()).select_from(sessions).where(*_status_filter(status))
    return (await conn.execute(query)).scalar_one()
