"""Pinning messages: either side of a private chat, a group's owner and admins.

A pin or an unpin is told in the conversation as a tip ("Alice pinned “see you at 10”"), a
message like any other, so devices that sync later learn of it in order and know to fetch
the list of pins again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pigeon.actions.changes import visible_message
from pigeon.actions.context import Context
from pigeon.actions.conversations import require_member
from pigeon.actions.tips import display_name, post_tip
from pigeon.bus.publication import message_stored
from pigeon.common.clock import now_ms
from pigeon.common.errors import Conflict, NotAdmin, NotEditable, TooManyPinned
from pigeon.common.models import Message
from pigeon.storage import conversations as conversation_store
from pigeon.storage import messages as message_store
from pigeon.storage import pins as store
from pigeon.storage.users import get_users


@dataclass(frozen=True)
class Pin:
    message: Message
    pinned_by: int | None
    pinned_at: int


async def pin_message(ctx: Context, user_id: int, message_id: int) -> Message:
    """Pin a message; the tip that tells the members is returned."""
    return await _set_pin(ctx, user_id, message_id, pinned=True)


async def unpin_message(ctx: Context, user_id: int, message_id: int) -> Message:
    """Unpin a message; the tip that tells the members is returned."""
    return await _set_pin(ctx, user_id, message_id, pinned=False)


async def list_pins(ctx: Context, user_id: int, conversation_id: int) -> list[Pin]:
    """The pinned messages the caller may see, latest pin first."""
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        rows = await store.pinned_rows(conn, conversation_id, membership["visible_from_seq"])
        found = await message_store.complete(
            conn, [message_store.message_from_row(row) for row, _, _ in rows]
        )
    return [Pin(m, by, at) for m, (_, by, at) in zip(found, rows, strict=True)]


async def _set_pin(ctx: Context, user_id: int, message_id: int, *, pinned: bool) -> Message:
    now = now_ms()
    async with ctx.transaction() as (conn, outbox):
        row, conversation = await visible_message(conn, user_id, message_id)
        cid = conversation["id"]
        if conversation["kind"] == "group":
            membership = await require_member(conn, cid, user_id)
            if membership["role"] not in ("owner", "admin"):
                raise NotAdmin("only the group owner or admins may pin messages")
        if row["kind"] in ("system", "recall") or row["recalled_at"] is not None:
            raise NotEditable("this message cannot be pinned")
        if pinned == await store.is_pinned(conn, cid, message_id):
            raise Conflict("the message is pinned already" if pinned else "it is not pinned")
        if pinned:
            limit = ctx.settings.messaging.max_pinned_messages
            if await store.count_pins(conn, cid) >= limit:
                raise TooManyPinned(f"at most {limit} messages can be pinned in a conversation")
            await store.add_pin(conn, cid, message_id, user_id, now)
        else:
            await store.remove_pin(conn, cid, message_id)
        actor = (await get_users(conn, [user_id])).get(user_id)
        snippet = message_store.quote_of(row).snippet or "a message"
        verb = "pinned" if pinned else "unpinned"
        tip = await post_tip(
            conn,
            cid,
            f"message_{verb}",
            f"{display_name(actor)} {verb} “{snippet[:40]}”",
            by=user_id,
            now=now,
            message_id=message_id,
            seq=row["seq"],
        )
        members = None
        if conversation["kind"] != "group":
            members = await conversation_store.member_ids(conn, cid)
        outbox.add(message_stored(tip, members))
    return tip
