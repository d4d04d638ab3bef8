"""The relational schema. Times are integer milliseconds since the epoch.

Messages are stored once per conversation (never one row per recipient) and numbered by a
per-conversation ``seq`` allocated from ``conversations.last_seq`` inside the inserting
transaction, so sequence numbers never repeat or go backwards whatever happens to Redis.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False),
    Column("username_key", String(32), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("nickname", String(64), nullable=False, server_default=""),
    Column("avatar_url", String(512), nullable=False, server_default=""),
    Column("signature", String(256), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("password_changed_at", BigInteger, nullable=False),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("device", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "session_id",
        ForeignKey("auth_sessions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("issued_at", BigInteger, nullable=False),
    Column("rotated_at", BigInteger, nullable=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("private_key", String(48), nullable=True, unique=True),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_message_at", BigInteger, nullable=False, server_default="0"),
    # Counts changes to stored messages (edits, reactions); see ``messages.version``.
    Column("last_change", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
)

conversation_members = Table(
    "conversation_members",
    metadata,
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), nullable=False, server_default="member"),
    Column("alias", String(64), nullable=False, server_default=""),
    Column("read_seq", BigInteger, nullable=False, server_default="0"),
    Column("visible_from_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_mention_seq", BigInteger, nullable=False, server_default="0"),
    # The member's own settings for the conversation, shared by all their devices.
    Column("muted_until", BigInteger, nullable=False, server_default="0"),  # 0: not muted
    Column("count_when_muted", Boolean, nullable=False, server_default="1"),
    Column("pinned_at", BigInteger, nullable=False, server_default="0"),  # 0: not on top
    Column("archived", Boolean, nullable=False, server_default="0"),
    Column("joined_at", BigInteger, nullable=False),
    Index("ix_conversation_members_user", "user_id", "conversation_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),
    Column("sender_id", BigInteger, nullable=True),
    Column("client_msg_id", String(64), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("mentions", Text, nullable=False, server_default="[]"),
    Column("mention_all", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("recalled_at", BigInteger, nullable=True),
    Column("edited_at", BigInteger, nullable=True),
    # The conversation's ``last_change`` when this message last changed (0: never), so that
    # a device catches up with changes by asking for versions above the last it saw.
    Column("version", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    UniqueConstraint("sender_id", "client_msg_id", name="uq_messages_sender_client_msg"),
    Index(
        "ix_messages_changes",
        "conversation_id",
        "version",
        postgresql_where=text("version > 0"),
        sqlite_where=text("version > 0"),
    ),
)

# Who reacted to a message with which emoji; a reaction is not a message (no seq).
message_reactions = Table(
    "message_reactions",
    metadata,
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("emoji", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

# Messages pinned in a conversation (by either side of a private chat, a group's managers).
message_pins = Table(
    "message_pins",
    metadata,
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("pinned_by", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

# Earlier bodies of edited messages, shown to their sender only.
message_edits = Table(
    "message_edits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("replaced_at", BigInteger, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(64), nullable=False),
    Column("avatar_url", String(512), nullable=False, server_default=""),
    Column("notice", Text, nullable=False, server_default=""),
    Column("owner_id", BigInteger, nullable=False),
    Column("member_count", Integer, nullable=False, server_default="0"),
    Column("hot", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("dissolved_at", BigInteger, nullable=True),
)

friendships = Table(
    "friendships",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("friend_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("remark", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)

friend_requests = Table(
    "friend_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("from_user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("to_user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("note", String(256), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_friend_requests_to", "to_user_id", "status"),
    Index("ix_friend_requests_from", "from_user_id", "status"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("name", String(255), nullable=False),
    Column("mime", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("has_thumbnail", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
)

# --- server push API: idempotent system sends and the delivery-result stream ---------------

# A system message (no sender) pushed by a backend, keyed by its client_msg_id: a retry
# finds the first message here instead of storing a second one.
service_system_sends = Table(
    "service_system_sends",
    metadata,
    Column("client_msg_id", String(64), primary_key=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Recipients of a service-pushed message who were offline when it was pushed; a row leaves
# when the recipient's client fetches a page of history that holds the message.
service_pending = Table(
    "service_pending",
    metadata,
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("conversation_id", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_service_pending_user", "user_id", "conversation_id", "seq"),
)

# The delivery-result stream backends read with a cursor (the id): per recipient of a
# service-pushed message, "online" or "offline" at push time, and "synced" when an offline
# recipient's client later fetched it.
service_deliveries = Table(
    "service_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("conversation_id", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("pushed_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_service_deliveries_message", "message_id"),
)

# --- delivery: what was committed and not yet fanned out -------------------------------

# One row per stored message from its commit until its fan-out finished (the message was
# handed to every gateway queue it needed). ``handed_at`` is when it was last handed on
# (its commit, or a retry). A row still here ``worker.handoff_grace_s`` later means the
# hand-off was lost (the process that stored it died, or Redis lost the fan-out stream):
# the ``handoff`` worker publishes the message again.
message_handoffs = Table(
    "message_handoffs",
    metadata,
    Column("message_id", BigInteger, primary_key=True),
    Column("handed_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_message_handoffs_handed_at", "handed_at"),
)
