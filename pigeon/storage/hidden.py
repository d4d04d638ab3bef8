"""Messages a member deleted for themselves ("delete for me")."""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.common.models import Message
from pigeon.storage.schema import conversation_members, hidden_messages

_HIDDEN_AFTER = (
    select(hidden_messages.c.message_id, hidden_messages.c.change)
    .where(
        hidden_messages.c.user_id == bindparam("uid"),
        hidden_messages.c.conversation_id == bindparam("cid"),
        hidden_messages.c.change > bindparam("after"),
    )
    .order_by(hidden_messages.c.change, hidden_messages.c.message_id)
    .limit(bindparam("limit", type_=Integer))
)


async def next_hidden_change(conn: AsyncConnection, conversation_id: int, user_id: int) -> int:
    query = (
        update(conversation_members)
        .where(
            conversation_members.c.conversation_id == conversation_id,
            conversation_members.c.user_id == user_id,
        )
        .values(hidden_change=conversation_members.c.hidden_change + 1)
        .returning(conversation_members.c.hidden_change)
    )
    return int((await conn.execute(query)).scalar_one())


async def hide(
    conn: AsyncConnection,
    user_id: int,
    conversation_id: int,
    seqs: dict[int, int],
    change: int,
    now: int,
) -> None:
    """Hide messages (id → seq) for the user; ones already hidden stay as they were."""
    rows = [
        {
            "user_id": user_id,
            "message_id": message_id,
            "conversation_id": conversation_id,
            "seq": seq,
            "change": change,
            "created_at": now,
        }
        for message_id, seq in seqs.items()
    ]
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(insert(hidden_messages).values(rows).on_conflict_do_nothing())


async def hidden_among(conn: AsyncConnection, user_id: int, message_ids: list[int]) -> set[int]:
    if not message_ids:
        return set()
    query = select(hidden_messages.c.message_id).where(
        hidden_messages.c.user_id == user_id, hidden_messages.c.message_id.in_(message_ids)
    )
    return set((await conn.execute(query)).scalars())


async def hidden_after(
    conn: AsyncConnection, user_id: int, conversation_id: int, after: int, limit: int
) -> tuple[list[tuple[int, int]], bool]:
    """(message id, change) of what the user hid after change ``after``, oldest first."""
    params = {"uid": user_id, "cid": conversation_id, "after": after, "limit": limit + 1}
    rows = [(r.message_id, r.change) for r in await conn.execute(_HIDDEN_AFTER, params)]
    return rows[:limit], len(rows) > limit


async def mask_hidden(
    conn: AsyncConnection, user_id: int, hidden_change: int, found: list[Message]
) -> list[Message]:
    """The messages as the member sees them: those they hid, empty and marked hidden.
    Free for members who never hid anything in the conversation (``hidden_change`` 0)."""
    if not hidden_change or not found:
        return found
    hidden = await hidden_among(conn, user_id, [m.id for m in found])
    return [_masked(m) if m.id in hidden else m for m in found]


def _masked(message: Message) -> Message:
    blank = {"body": {}, "hidden": True, "reactions": [], "reply_to": None, "mentions": []}
    return message.model_copy(update={**blank, "forwarded_from": None})
