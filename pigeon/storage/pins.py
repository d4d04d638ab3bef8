"""Pinned messages of a conversation."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import message_pins, messages


async def add_pin(
    conn: AsyncConnection, conversation_id: int, message_id: int, by: int, now: int
) -> None:
    row = {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "pinned_by": by,
        "created_at": now,
    }
    await conn.execute(message_pins.insert().values(row))


async def remove_pin(conn: AsyncConnection, conversation_id: int, message_id: int) -> bool:
    query = delete(message_pins).where(
        message_pins.c.conversation_id == conversation_id,
        message_pins.c.message_id == message_id,
    )
    return (await conn.execute(query)).rowcount == 1


async def is_pinned(conn: AsyncConnection, conversation_id: int, message_id: int) -> bool:
    query = select(message_pins.c.message_id).where(
        message_pins.c.conversation_id == conversation_id,
        message_pins.c.message_id == message_id,
    )
    return (await conn.execute(query)).first() is not None


async def count_pins(conn: AsyncConnection, conversation_id: int) -> int:
    query = select(func.count()).where(message_pins.c.conversation_id == conversation_id)
    return int((await conn.execute(query)).scalar_one())


async def pinned_rows(
    conn: AsyncConnection, conversation_id: int, floor: int
) -> list[tuple[RowMapping, int | None, int]]:
    """Pinned messages above ``floor`` not recalled, latest pin first, with who pinned
    each and when."""
    query = (
        select(messages, message_pins.c.pinned_by, message_pins.c.created_at.label("pinned_at"))
        .join(message_pins, message_pins.c.message_id == messages.c.id)
        .where(
            message_pins.c.conversation_id == conversation_id,
            messages.c.seq > floor,
            messages.c.recalled_at.is_(None),
        )
        .order_by(message_pins.c.created_at.desc(), messages.c.seq.desc())
    )
    rows = (await conn.execute(query)).mappings()
    return [(row, row["pinned_by"], row["pinned_at"]) for row in rows]
