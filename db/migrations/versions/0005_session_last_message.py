"""Sessions remember the message of their newest event that has one (a dashboard row's line).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("last_message", sa.Text(), nullable=True))
    # Sessions stored before it get theirs from their events: each a walk down its primary key.
    op.execute(
        "UPDATE sessions SET last_message = ("
        " SELECT events.message FROM events"
        " WHERE events.session_id = sessions.id AND events.message IS NOT NULL"
        " AND events.event_type <> 'status_changed'"
        " ORDER BY events.seq DESC LIMIT 1)"
        " WHERE sessions.last_seq > 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("last_message")
