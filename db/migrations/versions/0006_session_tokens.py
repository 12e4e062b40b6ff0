"""Session tokens are kept by id (never the token itself), so they can be revoked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from session_events.db.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_tokens",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "session_id",
            sa.Uuid(),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("minted_by", sa.Uuid(), nullable=True),
    )
    op.create_index("ix_session_tokens_session_id", "session_tokens", ["session_id"])
    op.create_index("ix_session_tokens_expires_at", "session_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("session_tokens")
