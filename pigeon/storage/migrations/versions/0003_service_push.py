"""server push API: idempotent system sends, pending offline recipients, delivery stream

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "service_system_sends",
        sa.Column("client_msg_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", Id, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_service_system_sends_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_msg_id", name=op.f("pk_service_system_sends")),
    )
    op.create_table(
        "service_pending",
        sa.Column("message_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_service_pending_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_pending_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", name=op.f("pk_service_pending")),
    )
    with op.batch_alter_table("service_pending", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_pending_user", ["user_id", "conversation_id", "seq"], unique=False
        )
    op.create_table(
        "service_deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pushed_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_deliveries")),
    )
    with op.batch_alter_table("service_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_service_deliveries_message", ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_service_deliveries_message")
    op.drop_table("service_deliveries")
    with op.batch_alter_table("service_pending", schema=None) as batch_op:
        batch_op.drop_index("ix_service_pending_user")
    op.drop_table("service_pending")
    op.drop_table("service_system_sends")
