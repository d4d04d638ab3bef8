"""full-text search of text messages: FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:00:00.000000

Both indexes hold the text of every text message not recalled, and both are kept by the
database itself inside the transaction that stores, edits or recalls a message, so the send
path's statements stay as they are: on SQLite triggers feed an external-content FTS5
table (the content is a view, so the text is not stored twice); on PostgreSQL a partial
expression index drops a recalled message by itself.

A trigram index finds any substring of three characters or more, which is what Chinese
and Japanese need (no spaces between words); shorter queries are answered without the
index (see :mod:`pigeon.storage.search`).

Note for later SQLite migrations: a batch ``ALTER`` of ``messages`` rebuilds the table and
drops its triggers; such a migration must create them again (``SQLITE_TRIGGERS``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = "json_extract({row}.body, '$.text')"
_DROP = (
    "INSERT INTO message_search(message_search, rowid, text) "
    f"VALUES ('delete', old.id, {_TEXT.format(row='old')})"
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages "
    "WHEN new.kind = 'text' AND new.recalled_at IS NULL BEGIN "
    f"INSERT INTO message_search(rowid, text) VALUES (new.id, {_TEXT.format(row='new')}); END",
    "CREATE TRIGGER messages_search_recall AFTER UPDATE OF recalled_at ON messages "
    "WHEN old.kind = 'text' AND old.recalled_at IS NULL AND new.recalled_at IS NOT NULL "
    f"BEGIN {_DROP}; END",
    "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages "
    f"WHEN old.kind = 'text' AND old.recalled_at IS NULL BEGIN {_DROP}; END",
    # An edit: the old text leaves, the new one comes in.
    "CREATE TRIGGER messages_search_edit AFTER UPDATE OF body ON messages "
    "WHEN old.kind = 'text' AND old.recalled_at IS NULL AND new.recalled_at IS NULL "
    f"AND old.body IS NOT new.body BEGIN {_DROP}; "
    f"INSERT INTO message_search(rowid, text) VALUES (new.id, {_TEXT.format(row='new')}); END",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIEW message_texts AS SELECT id, "
            f"{_TEXT.format(row='messages')} AS text FROM messages "
            "WHERE kind = 'text' AND recalled_at IS NULL"
        )
        op.execute(
            "CREATE VIRTUAL TABLE message_search USING fts5("
            "text, content='message_texts', content_rowid='id', tokenize='trigram')"
        )
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO message_search(message_search) VALUES ('rebuild')")
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_messages_text_trgm ON messages "
        "USING gin (((body::json) ->> 'text') gin_trgm_ops) "
        "WHERE kind = 'text' AND recalled_at IS NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "recall", "delete", "edit"):
            op.execute(f"DROP TRIGGER messages_search_{name}")
        op.execute("DROP TABLE message_search")
        op.execute("DROP VIEW message_texts")
        return
    op.execute("DROP INDEX ix_messages_text_trgm")
