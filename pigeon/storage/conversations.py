"""Queries for conversations and their members."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BindParameter, Update, and_, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import blocks, conversation_members, conversations, friendships, groups


def private_key(user_a: int, user_b: int) -> str:
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


# Statements on the send path are built once: building and keying a statement costs more
# than running it.
_FIND_PRIVATE = select(conversations.c.id).where(conversations.c.private_key == bindparam("key"))
_FIND_CONVERSATION = select(conversations).where(conversations.c.id == bindparam("cid"))
_FIND_MEMBERSHIP = (
    select(conversation_members, conversations.c.kind, conversations.c.last_change)
    .join(conversations, conversations.c.id == conversation_members.c.conversation_id)
    .where(
        conversation_members.c.conversation_id == bindparam("cid"),
        conversation_members.c.user_id == bindparam("uid"),
    )
)
_MEMBER_IDS = select(conversation_members.c.user_id).where(
    conversation_members.c.conversation_id == bindparam("cid")
)
ADVANCE_READ = (
    update(conversation_members)
    .where(
        conversation_members.c.conversation_id == bindparam("cid"),
        conversation_members.c.user_id == bindparam("uid"),
        conversation_members.c.read_seq < bindparam("seq"),
    )
    .values(read_seq=bindparam("seq"))
)


async def find_private(conn: AsyncConnection, user_a: int, user_b: int) -> int | None:
    result = await conn.execute(_FIND_PRIVATE, {"key": private_key(user_a, user_b)})
    return result.scalar_one_or_none()


async def create_private(conn: AsyncConnection, user_a: int, user_b: int, now: int) -> int:
    """Create the 1:1 conversation, or return the one a concurrent request just made."""
    existing = await find_private(conn, user_a, user_b)
    if existing is not None:
        return existing
    insert = _upsert_dialect(conn).insert(conversations)
    await conn.execute(
        insert.values(
            kind="private", private_key=private_key(user_a, user_b), created_at=now
        ).on_conflict_do_nothing(index_elements=["private_key"])
    )
    conversation_id = await find_private(conn, user_a, user_b)
    assert conversation_id is not None
    members = _upsert_dialect(conn).insert(conversation_members)
    await conn.execute(
        members.on_conflict_do_nothing(index_elements=["conversation_id", "user_id"]),
        [
            {"conversation_id": conversation_id, "user_id": uid, "joined_at": now}
            for uid in dict.fromkeys((user_a, user_b))
        ],
    )
    return conversation_id


def _upsert_dialect(conn: AsyncConnection) -> Any:
    """The dialect module whose ``insert`` has ``on_conflict_do_nothing``."""
    return postgresql if conn.dialect.name == "postgresql" else sqlite


async def find_conversation(conn: AsyncConnection, conversation_id: int) -> RowMapping | None:
    return (await conn.execute(_FIND_CONVERSATION, {"cid": conversation_id})).mappings().first()


async def find_membership(
    conn: AsyncConnection, conversation_id: int, user_id: int
) -> RowMapping | None:
    """The member's row, with the conversation's ``kind`` and ``last_change``."""
    result = await conn.execute(_FIND_MEMBERSHIP, {"cid": conversation_id, "uid": user_id})
    return result.mappings().first()


async def member_ids(conn: AsyncConnection, conversation_id: int) -> list[int]:
    return list((await conn.execute(_MEMBER_IDS, {"cid": conversation_id})).scalars())


async def allocate_seq(conn: AsyncConnection, conversation_id: int, now: int) -> int:
    """Take the next sequence number; the row lock orders concurrent senders."""
    result = await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(last_seq=conversations.c.last_seq + 1, last_message_at=now)
        .returning(conversations.c.last_seq)
    )
    return int(result.scalar_one())


async def allocate_seq_guarded(
    conn: AsyncConnection,
    conversation_id: int,
    now: int,
    *,
    sender_id: int,
    peer_id: int | None,
    require_friendship: bool,
    open_group: bool,
) -> int | None:
    """Take the next seq only if the sender may still send; None if a rule now refuses.

    One statement re-asserts, under the conversation's row lock, what the send's checks
    found: the sender is a member, the peer has not blocked them (and they are friends if
    required), the group is not dissolved.
    """
    statement = guarded_seq_statement(
        peer=peer_id is not None, friendship=require_friendship, open_group=open_group
    )
    params = {"cid": conversation_id, "sender": sender_id, "now": now}
    if peer_id is not None:
        params["peer"] = peer_id
    seq = (await conn.execute(statement, params)).scalar_one_or_none()
    return None if seq is None else int(seq)


@functools.cache
def guarded_seq_statement(*, peer: bool, friendship: bool, open_group: bool) -> Update:
    member = conversation_members.c
    cid: BindParameter[int] = bindparam("cid")
    sender: BindParameter[int] = bindparam("sender")
    rules = [
        conversations.c.id == cid,
        exists().where(member.conversation_id == cid, member.user_id == sender),
    ]
    if peer:
        rules.append(
            ~exists().where(blocks.c.user_id == bindparam("peer"), blocks.c.blocked_id == sender)
        )
        if friendship:
            rules.append(
                exists().where(
                    friendships.c.user_id == sender, friendships.c.friend_id == bindparam("peer")
                )
            )
    if open_group:
        rules.append(
            ~exists().where(groups.c.conversation_id == cid, groups.c.dissolved_at.is_not(None))
        )
    return (
        update(conversations)
        .where(*rules)
        .values(last_seq=conversations.c.last_seq + 1, last_message_at=bindparam("now"))
        .returning(conversations.c.last_seq)
    )


async def advance_read(conn: AsyncConnection, conversation_id: int, user_id: int, seq: int) -> bool:
    """Move a member's read marker forward (never back); True if it moved."""
    params = {"cid": conversation_id, "uid": user_id, "seq": seq}
    return (await conn.execute(ADVANCE_READ, params)).rowcount == 1


async def flag_mentions(
    conn: AsyncConnection, conversation_id: int, user_ids: list[int], seq: int
) -> None:
    if not user_ids:
        return
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id.in_(user_ids),
        )
        .values(last_mention_seq=seq)
    )


async def list_memberships(
    conn: AsyncConnection, user_id: int, conversation_id: int | None = None
) -> list[RowMapping]:
    """The user's conversations (or just one) with their counters and the user's settings:
    pinned first (the latest pinned on top), then by latest activity."""
    query = (
        select(
            conversations.c.id,
            conversations.c.kind,
            conversations.c.last_seq,
            conversations.c.last_change,
            conversations.c.last_message_at,
            conversation_members.c.read_seq,
            conversation_members.c.visible_from_seq,
            conversation_members.c.last_mention_seq,
            conversation_members.c.role,
            conversation_members.c.muted_until,
            conversation_members.c.count_when_muted,
            conversation_members.c.pinned_at,
            conversation_members.c.archived,
        )
        .join(
            conversation_members,
            and_(
                conversation_members.c.conversation_id == conversations.c.id,
                conversation_members.c.user_id == user_id,
            ),
        )
        .order_by(
            conversation_members.c.pinned_at.desc(),
            conversations.c.last_message_at.desc(),
            conversations.c.id.desc(),
        )
    )
    if conversation_id is not None:
        query = query.where(conversations.c.id == conversation_id)
    return list((await conn.execute(query)).mappings())


async def peers_of(
    conn: AsyncConnection, user_id: int, conversation_ids: list[int]
) -> dict[int, RowMapping]:
    """For private conversations: the other member's row (user id, read_seq)."""
    if not conversation_ids:
        return {}
    query = select(conversation_members).where(
        conversation_members.c.conversation_id.in_(conversation_ids),
        conversation_members.c.user_id != user_id,
    )
    return {row["conversation_id"]: row for row in (await conn.execute(query)).mappings()}


async def group_rows(conn: AsyncConnection, conversation_ids: list[int]) -> dict[int, RowMapping]:
    if not conversation_ids:
        return {}
    query = select(groups).where(groups.c.conversation_id.in_(conversation_ids))
    return {row["conversation_id"]: row for row in (await conn.execute(query)).mappings()}


async def update_settings(
    conn: AsyncConnection, conversation_id: int, user_id: int, **values: object
) -> None:
    """Set the member's own settings for the conversation (mute, pin, archive)."""
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id == user_id,
        )
        .values(**values)
    )


async def count_pinned(conn: AsyncConnection, user_id: int) -> int:
    query = select(func.count()).where(
        conversation_members.c.user_id == user_id, conversation_members.c.pinned_at > 0
    )
    return int((await conn.execute(query)).scalar_one())
