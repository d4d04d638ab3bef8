"""Delete for me: a member hides messages on all their own devices; nobody else's view
changes (recall is the way to take a message back from everyone).

A hidden message keeps its place: the member's history, pulls and summaries still carry it,
as ``hidden`` with nothing in it, so seqs stay without holes and sync works as before. Each
hide takes the member's next ``hidden_change``; their other devices are told at once, and a
device that was away asks for what was hidden after the last change it saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context
from pigeon.actions.conversations import require_member
from pigeon.common.clock import now_ms
from pigeon.common.errors import NotFound
from pigeon.common.protocol.frames import EventFrame
from pigeon.storage import hidden as store
from pigeon.storage import messages as message_store


@dataclass(frozen=True)
class HiddenPage:
    conversation_id: int
    message_ids: list[int]
    hidden_change: int
    has_more: bool


async def hide_messages(
    ctx: Context, user_id: int, conversation_id: int, message_ids: list[int]
) -> int:
    """Hide messages of one conversation for the caller; the caller's new ``hidden_change``."""
    async with ctx.transaction() as (conn, outbox):
        membership = await require_member(conn, conversation_id, user_id)
        seqs = await _visible_seqs(conn, membership, conversation_id, message_ids)
        change = await store.next_hidden_change(conn, conversation_id, user_id)
        await store.hide(conn, user_id, conversation_id, seqs, change, now_ms())
        data = {
            "conversation_id": conversation_id,
            "message_ids": list(seqs),
            "hidden_change": change,
        }
        outbox.push(EventFrame(event="messages_hidden", data=data), [user_id])
    return change


async def fetch_hidden(
    ctx: Context, user_id: int, conversation_id: int, *, after: int, limit: int = 200
) -> HiddenPage:
    """What the caller hid in a conversation after their change ``after``."""
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        rows, more = await store.hidden_after(conn, user_id, conversation_id, after, limit)
    reached = rows[-1][1] if more else max(membership["hidden_change"], after)
    return HiddenPage(conversation_id, [mid for mid, _ in rows], reached, more)


async def _visible_seqs(
    conn: AsyncConnection, membership: RowMapping, conversation_id: int, message_ids: list[int]
) -> dict[int, int]:
    seqs: dict[int, int] = {}
    for message_id in dict.fromkeys(message_ids):
        row = await message_store.find_message(conn, message_id)
        if (
            row is None
            or row["conversation_id"] != conversation_id
            or row["seq"] <= membership["visible_from_seq"]
        ):
            raise NotFound(f"no message {message_id} in this conversation")
        seqs[message_id] = row["seq"]
    return seqs
