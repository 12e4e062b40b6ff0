"""Each session's number of events per event_type, kept by appends.

A filtered listing's total over a whole session is then one lookup instead of counting that
type's index entries, which grows with the session (perf/RESULTS.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_type_counts",
        sa.Column(
            "session_id",
            sa.Uuid(),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("event_type", sa.String(100), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO event_type_counts (session_id, event_type, events)"
        " SELECT session_id, event_type, count(*) FROM events GROUP BY session_id, event_type"
    )


def downgrade() -> None:
    op.drop_table("event_type_counts")
