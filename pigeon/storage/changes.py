"""Changes to stored messages (edits, reactions), numbered per conversation.

A change takes the conversation's next ``last_change`` and stamps it on the message as its
``version``, in the transaction that makes the change; a device that saw changes up to N asks
for the messages whose version is above N. Reactions live in their own table and are put
on a message only when its version says it has any, so pages of unchanged messages cost
no extra query (:func:`pigeon.storage.messages.complete`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.common.models import Reaction
from pigeon.storage.schema import conversations, message_edits, message_reactions, messages

# How many reactors a message carries per emoji; the full list is its own request.
REACTORS_SHOWN = 20

_NEXT_CHANGE = (
    update(conversations)
    .where(conversations.c.id == bindparam("cid"))
    .values(last_change=conversations.c.last_change + 1)
    .returning(conversations.c.last_change)
)
_CHANGED_AFTER = (
    select(messages)
    .where(
        messages.c.conversation_id == bindparam("cid"),
        messages.c.version > bindparam("after"),
        messages.c.seq > bindparam("floor"),
    )
    .order_by(messages.c.version)
    .limit(bindparam("limit", type_=Integer))
)


async def next_change(conn: AsyncConnection, conversation_id: int) -> int:
    """Take the conversation's next change number (the row lock orders concurrent changes)."""
    result = await conn.execute(_NEXT_CHANGE, {"cid": conversation_id})
    return int(result.scalar_one())


async def stamp(conn: AsyncConnection, message_id: int, version: int, **values: Any) -> None:
    """Mark the message changed at ``version`` (with any column values the change sets)."""
    query = update(messages).where(messages.c.id == message_id)
    await conn.execute(query.values(version=version, **values))


async def add_reaction(
    conn: AsyncConnection, message_id: int, user_id: int, emoji: str, now: int
) -> bool:
    """Add one reaction; False if the user already reacted with that emoji."""
    row = {"message_id": message_id, "user_id": user_id, "emoji": emoji, "created_at": now}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    query = insert(message_reactions).values(row).on_conflict_do_nothing()
    return (await conn.execute(query)).rowcount == 1


async def remove_reaction(conn: AsyncConnection, message_id: int, user_id: int, emoji: str) -> bool:
    query = delete(message_reactions).where(
        message_reactions.c.message_id == message_id,
        message_reactions.c.user_id == user_id,
        message_reactions.c.emoji == emoji,
    )
    return (await conn.execute(query)).rowcount == 1


async def emojis_of_user(conn: AsyncConnection, message_id: int, user_id: int) -> set[str]:
    query = select(message_reactions.c.emoji).where(
        message_reactions.c.message_id == message_id, message_reactions.c.user_id == user_id
    )
    return set((await conn.execute(query)).scalars())


async def distinct_emojis(conn: AsyncConnection, message_id: int) -> int:
    query = select(func.count(func.distinct(message_reactions.c.emoji))).where(
        message_reactions.c.message_id == message_id
    )
    return int((await conn.execute(query)).scalar_one())


async def reactors(
    conn: AsyncConnection, message_id: int, emoji: str | None = None
) -> list[tuple[str, int, int]]:
    """(emoji, user id, time) of every reaction to a message, oldest first."""
    query = select(
        message_reactions.c.emoji, message_reactions.c.user_id, message_reactions.c.created_at
    ).where(message_reactions.c.message_id == message_id)
    if emoji is not None:
        query = query.where(message_reactions.c.emoji == emoji)
    query = query.order_by(message_reactions.c.created_at, message_reactions.c.user_id)
    return [(r.emoji, r.user_id, r.created_at) for r in await conn.execute(query)]


async def reactions_of(conn: AsyncConnection, message_ids: list[int]) -> dict[int, list[Reaction]]:
    """The reactions on each of these messages that has any."""
    if not message_ids:
        return {}
    r = message_reactions.c
    query = (
        select(r.message_id, r.emoji, r.user_id)
        .where(r.message_id.in_(message_ids))
        .order_by(r.created_at, r.user_id)
    )
    by_message: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for row in await conn.execute(query):
        by_message[row.message_id].setdefault(row.emoji, []).append(row.user_id)
    return {mid: summarise(by_emoji) for mid, by_emoji in by_message.items()}


def summarise(by_emoji: dict[str, list[int]]) -> list[Reaction]:
    """Reactions as clients show them: emoji in the order first used, with counts."""
    return [
        Reaction(emoji=emoji, count=len(users), user_ids=users[:REACTORS_SHOWN])
        for emoji, users in by_emoji.items()
    ]


async def changed_after(
    conn: AsyncConnection, conversation_id: int, after: int, floor: int, limit: int
) -> tuple[list[Any], bool]:
    """Rows of messages above ``floor`` changed after version ``after``, in version order."""
    params = {"cid": conversation_id, "after": after, "floor": floor, "limit": limit + 1}
    rows = list((await conn.execute(_CHANGED_AFTER, params)).mappings())
    return rows[:limit], len(rows) > limit


async def keep_edit(conn: AsyncConnection, message_id: int, body: str, now: int) -> None:
    """Keep the body an edit replaces (its sender may read the history)."""
    row = {"message_id": message_id, "body": body, "replaced_at": now}
    await conn.execute(message_edits.insert().values(row))


async def edits_of(conn: AsyncConnection, message_id: int) -> list[tuple[dict[str, Any], int]]:
    """Earlier bodies of a message with the time each was replaced, oldest first."""
    query = (
        select(message_edits.c.body, message_edits.c.replaced_at)
        .where(message_edits.c.message_id == message_id)
        .order_by(message_edits.c.id)
    )
    return [(json.loads(r.body), r.replaced_at) for r in await conn.execute(query)]
