"""Messages once stored: history by seq, read marks, recall, typing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context
from pigeon.actions.conversations import require_member, require_open
from pigeon.actions.deliveries import note_fetched
from pigeon.actions.fanout import is_hot, note_caught_up
from pigeon.bus.publication import (
    message_stored,
    to_group,
    to_users,
)
from pigeon.common.clock import now_ms
from pigeon.common.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    RecallWindowPassed,
)
from pigeon.common.models import Ack, Message
from pigeon.common.protocol.frames import ReadReceiptFrame, TypingNoticeFrame
from pigeon.storage import conversations as store
from pigeon.storage import friends as friend_store
from pigeon.storage import groups as group_store
from pigeon.storage import messages as message_store
from pigeon.storage import pins as pin_store


@dataclass(frozen=True)
class Page:
    conversation_id: int
    messages: list[Message]
    has_more: bool


async def fetch_messages(
    ctx: Context,
    user_id: int,
    conversation_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
    device: str | None = None,
) -> Page:
    """A page of history by seq: after a seq (sync), before one (scrollback) or the newest."""
    if after is not None and before is not None:
        raise InvalidRequest("give after or before, not both")
    limit = max(1, min(limit, ctx.settings.messaging.page_limit_max))
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        floor = membership["visible_from_seq"]
        if after is not None and membership["kind"] == "group":
            ctx.recent.settle(conversation_id, membership["last_change"])
            found, more = await _page_after_recent(
                ctx, conn, conversation_id, max(after, floor), limit
            )
        elif after is not None:
            found, more = await message_store.page_after(
                conn, conversation_id, max(after, floor), limit
            )
        else:
            upper = before if before is not None else 2**62
            found, more = await message_store.page_before(
                conn, conversation_id, upper, floor, limit
            )
    if before is None and not (after is not None and more):
        # Caught up (the end of a pull, or the newest page): settle a hot-group notice. A
        # pull that the group outran meanwhile answers "more" rather than with a notice.
        reached = found[-1].seq if found else max(after or 0, floor)
        pulling = after is not None
        behind = await note_caught_up(
            ctx, conversation_id, user_id, device, reached, wake=not pulling
        )
        more = more or (pulling and behind)
    if found:
        # The server push API reports when a recipient who was offline fetches its pushes.
        await note_fetched(ctx, user_id, conversation_id, found[0].seq, found[-1].seq)
    return Page(conversation_id, found, more)


async def _page_after_recent(
    ctx: Context, conn: AsyncConnection, conversation_id: int, after: int, limit: int
) -> tuple[list[Message], bool]:
    """A group's messages after a seq: what this process holds of them
    (:mod:`pigeon.storage.recent`), then the database for the rest."""
    recent = ctx.recent
    held = recent.after(conversation_id, after, limit) or []
    reached = held[-1].seq if held else after
    fresh, more = await message_store.page_after(conn, conversation_id, reached, limit - len(held))
    recent.extend(conversation_id, fresh)
    found = held + fresh
    if held and any(m.kind == "recall" for m in fresh):
        # The run has just applied the recall to an original this page already holds.
        found = recent.after(conversation_id, after, len(found)) or found
    return found, more


async def mark_read(
    ctx: Context,
    user_id: int,
    conversation_id: int,
    seq: int,
    *,
    exclude_connection: str | None = None,
    device: str | None = None,
) -> None:
    """Move the read marker; the other members see a receipt, the reader's devices too."""
    async with ctx.transaction() as (conn, outbox):
        await require_member(conn, conversation_id, user_id)
        conversation = await store.find_conversation(conn, conversation_id)
        assert conversation is not None
        seq = min(seq, conversation["last_seq"])
        if await store.advance_read(conn, conversation_id, user_id, seq):
            members = await _receipt_audience(conn, conversation, user_id)
            frame = ReadReceiptFrame(conversation_id=conversation_id, user_id=user_id, seq=seq)
            outbox.push(frame, members, exclude_connection)
    await note_caught_up(ctx, conversation_id, user_id, device, seq)


async def _receipt_audience(
    conn: AsyncConnection, conversation: RowMapping, reader_id: int
) -> list[int]:
    if conversation["kind"] == "private":
        return await store.member_ids(conn, conversation["id"])
    # In groups, receipts go to the reader's devices; senders ask for read counts.
    return [reader_id]


async def recall_message(
    ctx: Context, user_id: int, message_id: int, *, exclude_connection: str | None = None
) -> Ack:
    """Replace a message by a recall tip for everyone, on every device, now and at sync.

    The recall is itself a message with the next seq, so a client that syncs later learns
    of it in order; the original is kept but served with an empty body.
    """
    now = now_ms()
    async with ctx.transaction() as (conn, outbox):
        row = await message_store.find_message(conn, message_id)
        if row is None:
            raise NotFound("no such message")
        membership = await require_member(conn, row["conversation_id"], user_id)
        await require_open(conn, row["conversation_id"])
        if row["kind"] in ("system", "recall") or row["recalled_at"] is not None:
            raise InvalidRequest("this message cannot be recalled")
        is_manager = membership["role"] in ("owner", "admin")
        conversation = await store.find_conversation(conn, row["conversation_id"])
        assert conversation is not None
        if not (conversation["kind"] == "group" and is_manager):
            if row["sender_id"] != user_id:
                raise Forbidden("you can only recall your own messages")
            if now - row["created_at"] > ctx.settings.messaging.recall_window_s * 1000:
                raise RecallWindowPassed()
        await message_store.mark_recalled(conn, message_id, now)
        await pin_store.remove_pin(conn, row["conversation_id"], message_id)
        seq = await store.allocate_seq(conn, row["conversation_id"], now)
        body = {"message_id": message_id, "seq": row["seq"], "by": user_id}
        recall_id = await message_store.insert_message(
            conn,
            conversation_id=row["conversation_id"],
            seq=seq,
            sender_id=user_id,
            client_msg_id=None,
            kind="recall",
            body=body,
            mentions=[],
            mention_all=False,
            now=now,
        )
        await store.advance_read(conn, row["conversation_id"], user_id, seq)
        recall = Message(
            id=recall_id,
            conversation_id=row["conversation_id"],
            seq=seq,
            sender_id=user_id,
            client_msg_id=None,
            kind="recall",
            body=body,
            ts=now,
        )
        members = None
        if conversation["kind"] != "group":
            members = await store.member_ids(conn, row["conversation_id"])
        outbox.add(message_stored(recall, members, exclude_connection=exclude_connection))
    return Ack.of(recall)


async def send_typing(
    ctx: Context, user_id: int, conversation_id: int, *, exclude_connection: str | None = None
) -> None:
    """Tell the other members someone is typing. Ephemeral: nothing is stored.

    Hot groups get no typing indicators: with that many members they are noise.
    """
    async with ctx.db.read() as conn:
        await require_member(conn, conversation_id, user_id)
        group = await group_store.find_group(conn, conversation_id)
        members = [] if group is not None else await store.member_ids(conn, conversation_id)
        others = [uid for uid in members if uid != user_id]
        # Whoever blocked the typist is not told, as they would not get the message.
        blockers = await friend_store.blockers_among(conn, others, user_id) if others else set()
    frame = TypingNoticeFrame(conversation_id=conversation_id, user_id=user_id)
    if group is not None:
        if group["dissolved_at"] is None and not is_hot(
            ctx, group["member_count"], bool(group["hot"])
        ):
            await ctx.publish([to_group(frame, conversation_id, skip_user_ids=[user_id])])
        return
    recipients = [uid for uid in others if uid not in blockers]
    if recipients:
        await ctx.publish([to_users(frame, recipients)])
