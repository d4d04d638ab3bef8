"""Queries for groups: the group row, its members (paged by user id), roles and readers.

A group is a conversation of kind ``group`` plus a ``groups`` row keyed by the same id;
its members are ``conversation_members`` rows. Member lists are paged by user id (keyset),
never by offset, so a page costs the same at member 10 and at member 9,990.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import conversation_members, conversations, groups, messages, users

ID_CHUNK = 500


async def insert_group(conn: AsyncConnection, *, name: str, owner_id: int, now: int) -> int:
    """Create the conversation and its group row; the id of both."""
    result = await conn.execute(
        conversations.insert().values(kind="group", created_at=now).returning(conversations.c.id)
    )
    conversation_id = int(result.scalar_one())
    await conn.execute(
        groups.insert().values(
            conversation_id=conversation_id,
            name=name,
            owner_id=owner_id,
            member_count=0,
            created_at=now,
        )
    )
    return conversation_id


async def lock_group(conn: AsyncConnection, conversation_id: int) -> RowMapping | None:
    """The group row, locked until commit so membership changes apply one at a time."""
    query = select(groups).where(groups.c.conversation_id == conversation_id).with_for_update()
    return (await conn.execute(query)).mappings().first()


async def find_group(conn: AsyncConnection, conversation_id: int) -> RowMapping | None:
    query = select(groups).where(groups.c.conversation_id == conversation_id)
    return (await conn.execute(query)).mappings().first()


async def update_group(conn: AsyncConnection, conversation_id: int, **values: Any) -> None:
    await conn.execute(
        update(groups).where(groups.c.conversation_id == conversation_id).values(**values)
    )


async def last_seq(conn: AsyncConnection, conversation_id: int) -> int:
    query = select(conversations.c.last_seq).where(conversations.c.id == conversation_id)
    return int((await conn.execute(query)).scalar_one())


async def add_members(
    conn: AsyncConnection,
    conversation_id: int,
    members: list[tuple[int, str]],
    *,
    visible_from_seq: int,
    now: int,
) -> None:
    """Insert (user id, role) rows; callers add only users who are not members yet."""
    for start in range(0, len(members), ID_CHUNK):
        await conn.execute(
            conversation_members.insert(),
            [
                {
                    "conversation_id": conversation_id,
                    "user_id": user_id,
                    "role": role,
                    "visible_from_seq": visible_from_seq,
                    "read_seq": visible_from_seq,
                    "joined_at": now,
                }
                for user_id, role in members[start : start + ID_CHUNK]
            ],
        )


async def remove_member(conn: AsyncConnection, conversation_id: int, user_id: int) -> bool:
    result = await conn.execute(
        conversation_members.delete().where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id == user_id,
        )
    )
    return result.rowcount == 1


async def count_members(conn: AsyncConnection, conversation_id: int) -> int:
    query = select(func.count()).where(conversation_members.c.conversation_id == conversation_id)
    return int((await conn.execute(query)).scalar_one())


async def roles_of(
    conn: AsyncConnection, conversation_id: int, user_ids: list[int]
) -> dict[int, str]:
    """The role of each of ``user_ids`` that is a member (absent: not a member)."""
    found: dict[int, str] = {}
    for start in range(0, len(user_ids), ID_CHUNK):
        query = select(conversation_members.c.user_id, conversation_members.c.role).where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id.in_(user_ids[start : start + ID_CHUNK]),
        )
        found.update({row.user_id: row.role for row in await conn.execute(query)})
    return found


async def set_role(conn: AsyncConnection, conversation_id: int, user_id: int, role: str) -> None:
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id == user_id,
        )
        .values(role=role)
    )


async def set_alias(conn: AsyncConnection, conversation_id: int, user_id: int, alias: str) -> None:
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id == user_id,
        )
        .values(alias=alias)
    )


async def member_page(
    conn: AsyncConnection,
    conversation_id: int,
    after_user_id: int,
    limit: int,
    prefix: str = "",
) -> list[RowMapping]:
    """Member rows with user id > ``after_user_id``, ascending, at most ``limit``;
    with a ``prefix``, only those whose username, nickname or alias starts with it (any
    case)."""
    member = conversation_members.c
    query = (
        select(conversation_members)
        .where(member.conversation_id == conversation_id, member.user_id > after_user_id)
        .order_by(member.user_id)
        .limit(limit)
    )
    if prefix:
        wanted = prefix.lower()
        query = query.join(users, users.c.id == member.user_id).where(
            or_(
                *(
                    func.lower(column).startswith(wanted, autoescape=True)
                    for column in (users.c.username, users.c.nickname, member.alias)
                )
            )
        )
    return list((await conn.execute(query)).mappings())


async def set_send_mute(
    conn: AsyncConnection, conversation_id: int, user_id: int, until: int
) -> None:
    """No sends from the member until ``until`` (ms; 0 lifts it)."""
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id == user_id,
        )
        .values(send_muted_until=until)
    )


async def manager_ids(conn: AsyncConnection, conversation_id: int) -> list[int]:
    """The owner and admins."""
    query = select(conversation_members.c.user_id).where(
        conversation_members.c.conversation_id == conversation_id,
        conversation_members.c.role.in_(("owner", "admin")),
    )
    return list((await conn.execute(query)).scalars())


async def member_id_page(
    conn: AsyncConnection, conversation_id: int, after_user_id: int, limit: int
) -> list[int]:
    query = (
        select(conversation_members.c.user_id)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id > after_user_id,
        )
        .order_by(conversation_members.c.user_id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def flag_mention_all(
    conn: AsyncConnection, conversation_id: int, sender_id: int, seq: int
) -> None:
    """@all: every member but the sender is mentioned at ``seq``, in one statement."""
    await conn.execute(
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id != sender_id,
        )
        .values(last_mention_seq=seq)
    )


async def readers(
    conn: AsyncConnection, conversation_id: int, seq: int, exclude_user_id: int | None
) -> list[int]:
    """Members whose read marker reached ``seq`` and who could see it, by user id."""
    query = (
        select(conversation_members.c.user_id)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.read_seq >= seq,
            conversation_members.c.visible_from_seq < seq,
        )
        .order_by(conversation_members.c.user_id)
    )
    if exclude_user_id is not None:
        query = query.where(conversation_members.c.user_id != exclude_user_id)
    return list((await conn.execute(query)).scalars())


async def sender_at(conn: AsyncConnection, conversation_id: int, seq: int) -> RowMapping | None:
    """The (id, sender_id) of the message at ``seq``, if there is one."""
    query = select(messages.c.id, messages.c.sender_id).where(
        messages.c.conversation_id == conversation_id, messages.c.seq == seq
    )
    return (await conn.execute(query)).mappings().first()


async def read_seqs(
    conn: AsyncConnection, conversation_id: int, user_ids: list[int]
) -> dict[int, int]:
    """Members' read markers (a hot group's read stubs are rebuilt from them)."""
    query = select(conversation_members.c.user_id, conversation_members.c.read_seq).where(
        conversation_members.c.conversation_id == conversation_id,
        conversation_members.c.user_id.in_(user_ids),
    )
    return {int(uid): int(seq) for uid, seq in (await conn.execute(query)).all()}
