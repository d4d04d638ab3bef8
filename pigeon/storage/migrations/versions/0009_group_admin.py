"""group invite links, join requests, join mode, member mutes and mute-all

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversation_members",
        sa.Column("send_muted_until", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "groups", sa.Column("join_mode", sa.String(length=8), server_default="link", nullable=False)
    )
    op.add_column(
        "groups", sa.Column("muted_all", sa.Boolean(), server_default="0", nullable=False)
    )
    op.create_table(
        "group_invites",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.conversation_id"],
            name=op.f("fk_group_invites_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_group_invites")),
    )
    op.create_index(op.f("ix_group_invites_group_id"), "group_invites", ["group_id"], unique=False)
    op.create_table(
        "group_join_requests",
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.conversation_id"],
            name=op.f("fk_group_join_requests_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_join_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_join_requests")),
    )


def downgrade() -> None:
    op.drop_table("group_join_requests")
    op.drop_index(op.f("ix_group_invites_group_id"), table_name="group_invites")
    op.drop_table("group_invites")
    op.drop_column("groups", "muted_all")
    op.drop_column("groups", "join_mode")
    op.drop_column("conversation_members", "send_muted_until")
