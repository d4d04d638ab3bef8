"""message hand-offs (committed, not yet fanned out); groups.hot becomes a choice

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_handoffs",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("handed_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_handoffs")),
    )
    op.create_index("ix_message_handoffs_handed_at", "message_handoffs", ["handed_at"])
    # ``hot`` used to be derived from the size at the last membership change; size is now
    # compared with the threshold when a message is fanned out, and ``hot`` is the owner's
    # or an admin's choice.
    op.execute("UPDATE groups SET hot = false")


def downgrade() -> None:
    op.drop_index("ix_message_handoffs_handed_at", table_name="message_handoffs")
    op.drop_table("message_handoffs")
