"""System tips: messages Pigeon itself writes into a conversation ("Alice joined").

A tip is an ordinary stored message of kind ``system`` with the conversation's next seq, so
a client that syncs later meets it in order with everything else. Its body says what
happened in words (``tip``) and in data (``event`` plus the ids involved).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.common.models import Message, User
from pigeon.storage import conversations as store
from pigeon.storage import messages as message_store

NAMES_IN_TIP = 10


def display_name(user: User | None) -> str:
    if user is None:
        return "someone"
    return user.nickname or user.username


def name_list(users: list[User]) -> str:
    """ "Bob", "Bob and Carol", "Bob, Carol and Dave", "Bob, Carol ... and 40 others"."""
    names = [display_name(u) for u in users[:NAMES_IN_TIP]]
    rest = len(users) - len(names)
    if rest > 0:
        return f"{', '.join(names)} and {rest} other{'s' if rest > 1 else ''}"
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


async def post_tip(
    conn: AsyncConnection,
    conversation_id: int,
    event: str,
    tip: str,
    *,
    by: int | None,
    now: int,
    **data: Any,
) -> Message:
    """Store a system tip with the next seq; the actor has read it already."""
    body: dict[str, Any] = {"tip": tip, "event": event, **data}
    if by is not None:
        body["by"] = by
    return await store_system_message(conn, conversation_id, body, now=now, by=by)


async def store_system_message(
    conn: AsyncConnection,
    conversation_id: int,
    body: dict[str, Any],
    *,
    now: int,
    by: int | None = None,
    client_msg_id: str | None = None,
) -> Message:
    """Store a message without a sender at the next seq; ``by`` (who caused it) has read it."""
    seq = await store.allocate_seq(conn, conversation_id, now)
    message_id = await message_store.insert_message(
        conn,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=None,
        client_msg_id=client_msg_id,
        kind="system",
        body=body,
        mentions=[],
        mention_all=False,
        now=now,
    )
    if by is not None:
        await store.advance_read(conn, conversation_id, by, seq)
    return Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=None,
        client_msg_id=client_msg_id,
        kind="system",
        body=body,
        ts=now,
    )
