"""Changing a stored message without a new one: edits and reactions, and catching up on them.

A recall is a later message (it takes a seq and counts as unread). An edit or a reaction is
not: it takes the conversation's next change number, which the message keeps as its
``version``, and every member's online devices get the message's new state in a
``message_changed`` frame. A device that was away asks for the changes after the last
version it saw (:func:`fetch_changes`); history pages always carry the current state.
"""

from __future__ import annotations

from dataclasses import dataclass

import emoji as emoji_data
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context, Outbox
from pigeon.actions.conversations import check_can_message, require_member, require_open
from pigeon.bus.publication import to_group
from pigeon.common.clock import now_ms
from pigeon.common.content import validate_body
from pigeon.common.errors import (
    EditWindowPassed,
    Forbidden,
    InvalidReaction,
    NotEditable,
    NotFound,
    TooManyReactions,
)
from pigeon.common.models import Message
from pigeon.common.protocol.frames import MessageChangedFrame
from pigeon.storage import changes as store
from pigeon.storage import conversations as conversation_store
from pigeon.storage import messages as message_store

MAX_EMOJI_CHARS = 16  # the longest emoji sequences (families, flags with tags) fit


@dataclass(frozen=True)
class ChangesPage:
    """Messages changed after a version, in version order; ``last_change`` is where the
    next request starts (the conversation's when nothing more follows)."""

    conversation_id: int
    messages: list[Message]
    last_change: int
    has_more: bool


@dataclass(frozen=True)
class Reactor:
    emoji: str
    user_id: int
    ts: int


@dataclass(frozen=True)
class EarlierBody:
    body: dict[str, object]
    replaced_at: int


async def react(
    ctx: Context,
    user_id: int,
    message_id: int,
    emoji: str,
    *,
    exclude_connection: str | None = None,
) -> Message:
    """Add the user's reaction to a message (again: nothing changes)."""
    emoji = check_emoji(emoji)
    limits = ctx.settings.messaging
    async with ctx.transaction() as (conn, outbox):
        row, conversation = await _changeable(ctx, conn, user_id, message_id)
        mine = await store.emojis_of_user(conn, message_id, user_id)
        if emoji in mine:
            return await _current(conn, row)
        if len(mine) >= limits.reactions_per_user:
            raise TooManyReactions(
                f"one person may put {limits.reactions_per_user} different reactions on a message"
            )
        if await store.distinct_emojis(conn, message_id) >= limits.reactions_per_message and (
            not await store.reactors(conn, message_id, emoji)
        ):
            raise TooManyReactions(
                f"a message may have {limits.reactions_per_message} different reactions"
            )
        await store.add_reaction(conn, message_id, user_id, emoji, now_ms())
        return await _record_change(conn, outbox, row, conversation, exclude_connection)


async def unreact(
    ctx: Context,
    user_id: int,
    message_id: int,
    emoji: str,
    *,
    exclude_connection: str | None = None,
) -> Message:
    """Take the user's reaction off a message (one that is not there: nothing changes)."""
    emoji = check_emoji(emoji)
    async with ctx.transaction() as (conn, outbox):
        row, conversation = await visible_message(conn, user_id, message_id)
        if not await store.remove_reaction(conn, message_id, user_id, emoji):
            return await _current(conn, row)
        return await _record_change(conn, outbox, row, conversation, exclude_connection)


async def edit_message(
    ctx: Context,
    user_id: int,
    message_id: int,
    text: str,
    *,
    exclude_connection: str | None = None,
) -> Message:
    """Replace the text of one's own text message within the edit window; the earlier
    text is kept for its sender. Mentions stay those of the original (nobody is notified
    again)."""
    messaging = ctx.settings.messaging
    body = validate_body("text", {"text": text}, messaging.max_text_chars)
    now = now_ms()
    async with ctx.transaction() as (conn, outbox):
        row, conversation = await _changeable(ctx, conn, user_id, message_id)
        if row["kind"] != "text":
            raise NotEditable()
        if row["sender_id"] != user_id:
            raise Forbidden("you can only edit your own messages")
        if now - row["created_at"] > messaging.edit_window_s * 1000:
            raise EditWindowPassed()
        encoded = message_store.encode_body(body)
        if encoded == row["body"]:
            return await _current(conn, row)
        await store.keep_edit(conn, message_id, row["body"], now)
        return await _record_change(
            conn, outbox, row, conversation, exclude_connection, body=encoded, edited_at=now
        )


async def fetch_changes(
    ctx: Context, user_id: int, conversation_id: int, *, after: int, limit: int = 100
) -> ChangesPage:
    """The messages the caller may see that changed after version ``after``."""
    limit = max(1, min(limit, ctx.settings.messaging.page_limit_max))
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        rows, more = await store.changed_after(
            conn, conversation_id, after, membership["visible_from_seq"], limit
        )
        found = await message_store.complete(
            conn, [message_store.message_from_row(r) for r in rows]
        )
    reached = found[-1].version if more else max(membership["last_change"], after)
    return ChangesPage(conversation_id, found, reached, more)


async def list_reactors(
    ctx: Context, user_id: int, message_id: int, emoji: str | None = None
) -> list[Reactor]:
    """Everyone who reacted to a message the caller may see, oldest first."""
    if emoji is not None:
        emoji = check_emoji(emoji)
    async with ctx.db.read() as conn:
        await visible_message(conn, user_id, message_id)
        found = await store.reactors(conn, message_id, emoji)
    return [Reactor(e, uid, ts) for e, uid, ts in found]


async def edit_history(ctx: Context, user_id: int, message_id: int) -> list[EarlierBody]:
    """The earlier texts of the caller's own message, oldest first."""
    async with ctx.db.read() as conn:
        row, _ = await visible_message(conn, user_id, message_id)
        if row["sender_id"] != user_id:
            raise Forbidden("only the sender sees a message's earlier texts")
        return [EarlierBody(body, at) for body, at in await store.edits_of(conn, message_id)]


def check_emoji(value: str) -> str:
    """One emoji (a sequence such as 👍🏽 or 👩‍💻 counts as one), else ``invalid_reaction``."""
    if not value or len(value) > MAX_EMOJI_CHARS or not emoji_data.is_emoji(value):
        raise InvalidReaction()
    return value


async def visible_message(
    conn: AsyncConnection, user_id: int, message_id: int
) -> tuple[RowMapping, RowMapping]:
    """The message and its conversation, if the caller may see it; else ``not_found``."""
    row = await message_store.find_message(conn, message_id)
    if row is None:
        raise NotFound("no such message")
    membership = await require_member(conn, row["conversation_id"], user_id)
    if row["seq"] <= membership["visible_from_seq"]:
        raise NotFound("no such message")
    conversation = await require_open(conn, row["conversation_id"])
    return row, conversation


async def _changeable(
    ctx: Context, conn: AsyncConnection, user_id: int, message_id: int
) -> tuple[RowMapping, RowMapping]:
    """A visible message that may take a change from the caller now: not recalled, not a
    tip, and (in a private chat) to a peer who would accept a message from the caller."""
    row, conversation = await visible_message(conn, user_id, message_id)
    if row["kind"] in ("system", "recall") or row["recalled_at"] is not None:
        raise NotEditable("this message cannot be changed")
    if conversation["kind"] == "private":
        peers = await conversation_store.peers_of(conn, user_id, [conversation["id"]])
        peer = peers.get(conversation["id"])
        if peer is not None:
            await check_can_message(ctx, conn, user_id, peer["user_id"])
    return row, conversation


async def _record_change(
    conn: AsyncConnection,
    outbox: Outbox,
    row: RowMapping,
    conversation: RowMapping,
    exclude_connection: str | None,
    **values: object,
) -> Message:
    """Stamp the change with the next version and tell the members after the commit."""
    cid = conversation["id"]
    version = await store.next_change(conn, cid)
    await store.stamp(conn, row["id"], version, **values)
    message = await _current(conn, {**row, **values, "version": version})
    frame = MessageChangedFrame(message=message)
    if conversation["kind"] == "group":
        outbox.add(to_group(frame, cid, exclude_connection=exclude_connection))
    else:
        members = await conversation_store.member_ids(conn, cid)
        outbox.push(frame, members, exclude_connection)
    return message


async def _current(conn: AsyncConnection, row: RowMapping | dict[str, object]) -> Message:
    message = message_store.message_from_row(row)  # type: ignore[arg-type]
    return (await message_store.complete(conn, [message]))[0]
