"""Deleted sessions leave a tombstone for a while, so the sessions stream can resume past them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from session_events.db.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_tombstones",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("session_type", sa.String(100), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_session_tombstones_deleted_at", "session_tombstones", ["deleted_at"])


def downgrade() -> None:
    op.drop_table("session_tombstones")
