"""Conversations: open a private one, list them with counters and the member's own
settings (mute, pin, archive), check who may do what."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context
from pigeon.actions.fanout import note_caught_up
from pigeon.common.clock import now_ms
from pigeon.common.errors import (
    Blocked,
    GroupDissolved,
    InvalidRequest,
    NotFound,
    NotFriends,
    NotMember,
    TooManyPinned,
)
from pigeon.common.models import (
    MUTED_FOREVER,
    Conversation,
    ConversationSettings,
    Group,
    Message,
    User,
)
from pigeon.common.protocol.frames import EventFrame
from pigeon.storage import conversations as store
from pigeon.storage import messages as message_store
from pigeon.storage.schema import blocks, friendships
from pigeon.storage.users import get_users


async def check_can_message(
    ctx: Context, conn: AsyncConnection, sender_id: int, target_id: int
) -> None:
    """Refuse a private message the target does not accept (blocked, not friends)."""
    if sender_id == target_id:
        raise InvalidRequest("you cannot start a conversation with yourself")
    if not await get_users(conn, [target_id]):
        raise NotFound("no such user")
    blocked = await conn.execute(
        select(blocks.c.user_id).where(
            blocks.c.user_id == target_id, blocks.c.blocked_id == sender_id
        )
    )
    if blocked.first() is not None:
        raise Blocked()
    if ctx.settings.messaging.require_friendship:
        friends = await conn.execute(
            select(friendships.c.user_id).where(
                friendships.c.user_id == sender_id, friendships.c.friend_id == target_id
            )
        )
        if friends.first() is None:
            raise NotFriends()


async def require_member(conn: AsyncConnection, conversation_id: int, user_id: int) -> RowMapping:
    """The caller's membership row; not a member and no such conversation look alike."""
    membership = await store.find_membership(conn, conversation_id, user_id)
    if membership is None:
        raise NotMember()
    return membership


async def require_open(conn: AsyncConnection, conversation_id: int) -> RowMapping:
    """The conversation row, refusing a dissolved group."""
    row = await store.find_conversation(conn, conversation_id)
    if row is None:
        raise NotFound("no such conversation")
    if row["kind"] == "group":
        group = (await store.group_rows(conn, [conversation_id])).get(conversation_id)
        if group is not None and group["dissolved_at"] is not None:
            raise GroupDissolved()
    return row


async def open_private_conversation(ctx: Context, user_id: int, peer_id: int) -> Conversation:
    async with ctx.transaction() as (conn, _):
        await check_can_message(ctx, conn, user_id, peer_id)
        conversation_id = await store.create_private(conn, user_id, peer_id, now_ms())
    return await get_conversation(ctx, user_id, conversation_id)


async def list_conversations(
    ctx: Context, user_id: int, *, device: str | None = None
) -> list[Conversation]:
    """Every conversation of the user, with its last seq, unread count and last message.

    A client lists after every (re)connect and pulls what is behind, so the listing also
    settles the device's hot-group notices: one held from before a disconnect would
    otherwise keep the next ones away.
    """
    async with ctx.db.read() as conn:
        rows = await store.list_memberships(conn, user_id)
        found = await _describe(ctx, conn, user_id, rows)
    await asyncio.gather(
        *(
            note_caught_up(ctx, c.id, user_id, device, c.last_seq)
            for c in found
            if c.group is not None and c.group.hot
        )
    )
    return found


async def change_settings(
    ctx: Context,
    user_id: int,
    conversation_id: int,
    *,
    muted_until: int | None = None,
    count_when_muted: bool | None = None,
    pinned: bool | None = None,
    archived: bool | None = None,
) -> Conversation:
    """Change the member's own settings for a conversation; all their devices are told.

    ``muted_until`` is a time in ms (0, or a time past: not muted; ``MUTED_FOREVER``: until
    unmuted). At most ``messaging.max_pinned_conversations`` are pinned at once.
    """
    now = now_ms()
    values: dict[str, object] = {}
    if muted_until is not None:
        values["muted_until"] = 0 if muted_until <= now else min(muted_until, MUTED_FOREVER)
    if count_when_muted is not None:
        values["count_when_muted"] = count_when_muted
    if archived is not None:
        values["archived"] = archived
    async with ctx.transaction() as (conn, outbox):
        membership = await require_member(conn, conversation_id, user_id)
        if pinned is not None and pinned != (membership["pinned_at"] > 0):
            limit = ctx.settings.messaging.max_pinned_conversations
            if pinned and await store.count_pinned(conn, user_id) >= limit:
                raise TooManyPinned(f"at most {limit} conversations can be pinned")
            values["pinned_at"] = now if pinned else 0
        if values:
            await store.update_settings(conn, conversation_id, user_id, **values)
        rows = await store.list_memberships(conn, user_id, conversation_id)
        conversation = (await _describe(ctx, conn, user_id, rows))[0]
        if values:
            data = {"conversation_id": conversation_id, **conversation.settings.model_dump()}
            outbox.push(EventFrame(event="conversation_settings", data=data), [user_id])
    return conversation


async def get_conversation(
    ctx: Context, user_id: int, conversation_id: int, *, device: str | None = None
) -> Conversation:
    async with ctx.db.read() as conn:
        rows = await store.list_memberships(conn, user_id, conversation_id)
        if not rows:
            raise NotMember()
        conversation = (await _describe(ctx, conn, user_id, rows))[0]
    # The member's client now knows where the conversation is (closed chats are fetched
    # rather than pulled): that settles a hot-group notice like a pull to the end would.
    await note_caught_up(ctx, conversation_id, user_id, device, conversation.last_seq)
    return conversation


async def _describe(
    ctx: Context, conn: AsyncConnection, user_id: int, rows: list[RowMapping]
) -> list[Conversation]:
    private_ids = [r["id"] for r in rows if r["kind"] == "private"]
    group_ids = [r["id"] for r in rows if r["kind"] == "group"]
    peers = await store.peers_of(conn, user_id, private_ids)
    users = await get_users(conn, [p["user_id"] for p in peers.values()])
    groups = await store.group_rows(conn, group_ids)
    last = await message_store.last_messages(
        conn,
        [(r["id"], r["last_seq"]) for r in rows if r["last_seq"] > r["visible_from_seq"]],
    )
    threshold = ctx.settings.messaging.hot_group_threshold
    return [_conversation(r, peers, users, groups, last, threshold) for r in rows]


def _conversation(
    row: RowMapping,
    peers: dict[int, RowMapping],
    users: dict[int, User],
    groups: dict[int, RowMapping],
    last: dict[int, Message],
    hot_threshold: int,
) -> Conversation:
    peer_row = peers.get(row["id"])
    group_row = groups.get(row["id"])
    read_seq = max(row["read_seq"], row["visible_from_seq"])
    return Conversation(
        id=row["id"],
        kind=row["kind"],
        peer=users.get(peer_row["user_id"]) if peer_row is not None else None,
        group=(
            group_from_row(group_row, row["role"], hot_threshold) if group_row is not None else None
        ),
        last_seq=row["last_seq"],
        last_change=row["last_change"],
        read_seq=row["read_seq"],
        peer_read_seq=peer_row["read_seq"] if peer_row is not None else 0,
        visible_from_seq=row["visible_from_seq"],
        unread=max(0, row["last_seq"] - read_seq),
        mentioned=row["last_mention_seq"] > read_seq,
        last_message=last.get(row["id"]),
        settings=ConversationSettings(
            muted_until=row["muted_until"],
            count_when_muted=bool(row["count_when_muted"]),
            pinned=row["pinned_at"] > 0,
            archived=bool(row["archived"]),
        ),
    )


def group_from_row(row: RowMapping, my_role: str | None, hot_threshold: int) -> Group:
    """``hot``: delivered by push + pull (marked so, or at the size threshold)."""
    return Group(
        id=row["conversation_id"],
        name=row["name"],
        avatar_url=row["avatar_url"],
        notice=row["notice"],
        owner_id=row["owner_id"],
        member_count=row["member_count"],
        dissolved=row["dissolved_at"] is not None,
        hot=bool(row["hot"]) or row["member_count"] >= hot_threshold,
        marked_hot=bool(row["hot"]),
        my_role=my_role,
    )
