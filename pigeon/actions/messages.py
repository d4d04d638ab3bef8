"""Messages: send (idempotent, acked after commit), history by seq, read marks, recall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context, Outbox
from pigeon.actions.conversations import check_can_message, require_member, require_open
from pigeon.actions.deliveries import note_fetched
from pigeon.actions.fanout import fan_out_message, is_hot, push_to_group
from pigeon.actions.uploads import attachment_body
from pigeon.common.clock import now_ms
from pigeon.common.content import validate_body
from pigeon.common.errors import Forbidden, InvalidRequest, NotFound, RecallWindowPassed
from pigeon.common.models import Ack, Message
from pigeon.common.protocol.frames import MessageFrame, ReadReceiptFrame, TypingNoticeFrame
from pigeon.storage import conversations as store
from pigeon.storage import groups as group_store
from pigeon.storage import messages as message_store

ATTACHMENT_KINDS = frozenset({"image", "file", "voice"})


@dataclass(frozen=True)
class Draft:
    """What a client asks to send, before it has a place in a conversation."""

    client_msg_id: str
    kind: str
    body: dict[str, Any]
    conversation_id: int | None = None
    to_user_id: int | None = None
    mentions: list[int] = field(default_factory=list)
    mention_all: bool = False


@dataclass(frozen=True)
class Page:
    conversation_id: int
    messages: list[Message]
    has_more: bool


async def send_message(
    ctx: Context,
    sender_id: int,
    draft: Draft,
    *,
    exclude_connection: str | None = None,
    wait_for_fan_out: bool = False,
) -> Ack:
    """Store a message and return its ack; push it to members only after the commit.

    A retry with a ``client_msg_id`` the sender already used returns the first ack and
    stores nothing, also when two retries race (the unique constraint decides).
    """
    if not draft.client_msg_id or len(draft.client_msg_id) > 64:
        raise InvalidRequest("client_msg_id must be 1-64 characters")
    body = validate_body(draft.kind, draft.body, ctx.settings.messaging.max_text_chars)
    if draft.kind in ATTACHMENT_KINDS:
        body = await attachment_body(ctx, draft.kind, body)
    async with ctx.db.read() as conn:
        existing = await message_store.find_by_client_id(conn, sender_id, draft.client_msg_id)
    if existing is not None:
        return _ack(message_store.message_from_row(existing))
    try:
        async with ctx.transaction() as (conn, outbox):
            message, is_group = await _store(
                ctx, conn, outbox, sender_id, draft, body, exclude_connection
            )
    except IntegrityError:
        async with ctx.db.read() as conn:
            existing = await message_store.find_by_client_id(conn, sender_id, draft.client_msg_id)
        if existing is None:
            raise
        return _ack(message_store.message_from_row(existing))
    if is_group and wait_for_fan_out:
        await fan_out_message(ctx, message, exclude_connection=exclude_connection)
    elif is_group:
        # The ack does not wait for a large group's fan-out; members sync by seq anyway.
        ctx.in_background(
            fan_out_message(ctx, message, exclude_connection=exclude_connection),
            name=f"fan-out-{message.conversation_id}-{message.seq}",
        )
    return _ack(message)


async def _store(
    ctx: Context,
    conn: AsyncConnection,
    outbox: Outbox,
    sender_id: int,
    draft: Draft,
    body: dict[str, Any],
    exclude_connection: str | None,
) -> tuple[Message, bool]:
    """Store the message; (message, is_group). Group pushes are the caller's, after commit."""
    now = now_ms()
    if draft.to_user_id is not None:
        await check_can_message(ctx, conn, sender_id, draft.to_user_id)
        conversation_id = await store.create_private(conn, sender_id, draft.to_user_id, now)
    elif draft.conversation_id is not None:
        conversation_id = draft.conversation_id
    else:
        raise InvalidRequest("give conversation_id or to_user_id")
    membership = await require_member(conn, conversation_id, sender_id)
    conversation = await require_open(conn, conversation_id)
    is_group = conversation["kind"] == "group"
    # A group's member list is never loaded to send: fan-out pages through it after commit.
    members = [] if is_group else await store.member_ids(conn, conversation_id)
    if not is_group and draft.to_user_id is None:
        peers = [uid for uid in members if uid != sender_id]
        if peers:
            await check_can_message(ctx, conn, sender_id, peers[0])
    wanted = list(dict.fromkeys(draft.mentions))
    if is_group:
        in_group = await group_store.roles_of(conn, conversation_id, wanted)
        mentions = [uid for uid in wanted if uid in in_group]
    else:
        mentions = [uid for uid in wanted if uid in set(members)]
    mention_all = draft.mention_all and is_group
    if mention_all and membership["role"] not in ("owner", "admin"):
        raise Forbidden("only the group owner or admins may mention everyone")
    seq = await store.allocate_seq(conn, conversation_id, now)
    message_id = await message_store.insert_message(
        conn,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        client_msg_id=draft.client_msg_id,
        kind=draft.kind,
        body=body,
        mentions=mentions,
        mention_all=mention_all,
        now=now,
    )
    await store.advance_read(conn, conversation_id, sender_id, seq)
    if mention_all:
        await group_store.flag_mention_all(conn, conversation_id, sender_id, seq)
    else:
        await store.flag_mentions(conn, conversation_id, mentions, seq)
    message = Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        client_msg_id=draft.client_msg_id,
        kind=draft.kind,
        body=body,
        ts=now,
        mentions=mentions,
        mention_all=mention_all,
    )
    if not is_group:
        outbox.push(MessageFrame(message=message), members, exclude_connection)
    return message, is_group


async def fetch_messages(
    ctx: Context,
    user_id: int,
    conversation_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Page:
    """A page of history by seq: after a seq (sync), before one (scrollback) or the newest."""
    if after is not None and before is not None:
        raise InvalidRequest("give after or before, not both")
    limit = max(1, min(limit, ctx.settings.messaging.page_limit_max))
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        floor = membership["visible_from_seq"]
        if after is not None:
            found, more = await message_store.page_after(
                conn, conversation_id, max(after, floor), limit
            )
        else:
            upper = before if before is not None else 2**62
            found, more = await message_store.page_before(
                conn, conversation_id, upper, floor, limit
            )
    if found:
        # The server push API reports when a recipient who was offline fetches its pushes.
        await note_fetched(ctx, user_id, conversation_id, found[0].seq, found[-1].seq)
    return Page(conversation_id, found, more)


async def mark_read(
    ctx: Context,
    user_id: int,
    conversation_id: int,
    seq: int,
    *,
    exclude_connection: str | None = None,
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
        is_group = conversation["kind"] == "group"
        if not is_group:
            members = await store.member_ids(conn, row["conversation_id"])
            outbox.push(MessageFrame(message=recall), members, exclude_connection)
    if is_group:
        await fan_out_message(ctx, recall, exclude_connection=exclude_connection)
    return _ack(recall)


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
    frame = TypingNoticeFrame(conversation_id=conversation_id, user_id=user_id)
    if group is not None:
        if group["dissolved_at"] is None and not is_hot(
            ctx, group["member_count"], bool(group["hot"])
        ):
            await push_to_group(ctx, conversation_id, frame, skip_user_ids=[user_id])
        return
    outbox = Outbox()
    others = [uid for uid in members if uid != user_id]
    outbox.push(frame, others)
    await ctx.publish(outbox)


def _ack(message: Message) -> Ack:
    return Ack(
        message_id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        ts=message.ts,
        client_msg_id=message.client_msg_id,
    )
