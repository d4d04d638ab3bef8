"""a partial index of the messages that carry uploads, for conversation galleries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEDIA_WHERE = "kind IN ('image', 'file', 'voice')"


def upgrade() -> None:
    op.create_index(
        "ix_messages_media",
        "messages",
        ["conversation_id", "seq"],
        sqlite_where=sa.text(MEDIA_WHERE),
        postgresql_where=sa.text(MEDIA_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_media", table_name="messages")
