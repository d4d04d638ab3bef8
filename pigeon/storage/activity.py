"""Which conversations saw messages lately: what a client may have missed pushes for."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import conversation_members, conversations


async def recent_conversations(
    conn: AsyncConnection, user_ids: list[int], since_ms: int
) -> dict[int, list[tuple[int, int]]]:
    """For each user, (conversation id, last seq) of their conversations with a message
    stored at or after ``since_ms``."""
    found: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if not user_ids:
        return found
    query = (
        select(conversation_members.c.user_id, conversations.c.id, conversations.c.last_seq)
        .join(conversations, conversations.c.id == conversation_members.c.conversation_id)
        .where(
            conversation_members.c.user_id.in_(user_ids),
            conversations.c.last_message_at >= since_ms,
        )
    )
    for user_id, conversation_id, last_seq in (await conn.execute(query)).all():
        found[user_id].append((conversation_id, last_seq))
    return found
