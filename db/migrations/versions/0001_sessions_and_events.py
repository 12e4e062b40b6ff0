"""Sessions and their events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from session_events.db.tables import JSONDocument, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("session_type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("project_path", sa.Text(), nullable=True),
        sa.Column("config", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_event_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_sessions_created_at", "sessions", ["created_at", "id"])
    op.create_index("ix_sessions_status_created_at", "sessions", ["status", "created_at", "id"])
    op.create_table(
        "events",
        sa.Column(
            "session_id",
            sa.Uuid(),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("event_data", JSONDocument, nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
    )
    op.create_index("ux_events_id", "events", ["id"], unique=True)
    op.create_index("ix_events_session_type_seq", "events", ["session_id", "event_type", "seq"])
    op.create_index("ix_events_session_timestamp", "events", ["session_id", "timestamp"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("sessions")
