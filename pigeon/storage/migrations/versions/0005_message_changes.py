"""message changes (edits, reactions) numbered per conversation; pins; members' own
conversation settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("last_change", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column("messages", sa.Column("edited_at", sa.BigInteger(), nullable=True))
    op.add_column(
        "messages", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_index(
        "ix_messages_changes",
        "messages",
        ["conversation_id", "version"],
        postgresql_where=sa.text("version > 0"),
        sqlite_where=sa.text("version > 0"),
    )
    op.create_table(
        "message_reactions",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_reactions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_message_reactions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "message_id", "user_id", "emoji", name=op.f("pk_message_reactions")
        ),
    )
    op.create_table(
        "message_pins",
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("pinned_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_message_pins_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_pins_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "message_id", name=op.f("pk_message_pins")),
    )
    for column in (
        sa.Column("muted_until", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("count_when_muted", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("pinned_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default="0", nullable=False),
    ):
        op.add_column("conversation_members", column)
    op.create_table(
        "message_edits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_edits_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_edits")),
    )
    op.create_index(
        op.f("ix_message_edits_message_id"), "message_edits", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_message_edits_message_id"), table_name="message_edits")
    op.drop_table("message_edits")
    for column in ("archived", "pinned_at", "count_when_muted", "muted_until"):
        op.drop_column("conversation_members", column)
    op.drop_table("message_pins")
    op.drop_table("message_reactions")
    op.drop_index("ix_messages_changes", table_name="messages")
    op.drop_column("messages", "version")
    op.drop_column("messages", "edited_at")
    op.drop_column("conversations", "last_change")
