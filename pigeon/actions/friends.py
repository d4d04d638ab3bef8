"""Friends: requests (send, accept, decline, cancel), removal, remarks and blocks.

Every change reaches both sides' online devices as an ``event`` frame, published after the
commit: ``friend_request``, ``friend_request_accepted``, ``friend_request_declined``,
``friend_request_cancelled`` and ``friend_removed``. What only concerns the caller (a
remark, a block) reaches only the caller's devices: ``friend_updated``, ``user_blocked``,
``user_unblocked``. A blocked user is never told.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context, Outbox
from pigeon.actions.presence import presence_of
from pigeon.common.clock import now_ms
from pigeon.common.errors import (
    AlreadyFriends,
    Blocked,
    Forbidden,
    InvalidRequest,
    NotFound,
    RequestNotPending,
)
from pigeon.common.models import BlockedUser, Friend, FriendRequest, User
from pigeon.common.protocol.frames import EventFrame
from pigeon.storage import conversations as conversation_store
from pigeon.storage import friends as store
from pigeon.storage.presence import last_seen_of
from pigeon.storage.users import get_users

log = structlog.get_logger(__name__)

MAX_NOTE_CHARS = 256
MAX_REMARK_CHARS = 64
REQUESTS_LISTED = 100


def event(name: str, **data: Any) -> EventFrame:
    return EventFrame(event=name, data=data)


# -- requests ---------------------------------------------------------------------------


async def send_friend_request(
    ctx: Context, user_id: int, target_id: int, note: str = ""
) -> FriendRequest:
    """Ask ``target_id`` to be friends.

    Asking again while a request is pending returns that request; asking someone who has
    already asked you accepts their request instead.
    """
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidRequest(f"the note is limited to {MAX_NOTE_CHARS} characters")
    if target_id == user_id:
        raise InvalidRequest("you cannot befriend yourself")
    async with ctx.transaction() as (conn, outbox):
        users = await get_users(conn, [user_id, target_id])
        if target_id not in users:
            raise NotFound("no such user")
        if await store.is_blocked(conn, target_id, user_id):
            raise Blocked("this user does not accept requests from you")
        if await store.is_blocked(conn, user_id, target_id):
            raise Forbidden("you blocked this user; unblock them first")
        if await store.find_friendship(conn, user_id, target_id) is not None:
            raise AlreadyFriends()
        theirs = await store.find_pending(conn, target_id, user_id)
        if theirs is not None:
            return await _accept(conn, outbox, theirs, users, now_ms())
        mine = await store.find_pending(conn, user_id, target_id)
        if mine is not None:
            return _request(mine, users)
        now = now_ms()
        request_id = await store.insert_request(conn, user_id, target_id, note, now)
        request = FriendRequest(
            id=request_id,
            from_user=users[user_id],
            to_user=users[target_id],
            note=note,
            status="pending",
            ts=now,
        )
        outbox.push(_request_event("friend_request", request), [user_id, target_id])
    return request


async def accept_friend_request(ctx: Context, user_id: int, request_id: int) -> FriendRequest:
    """The recipient accepts: both become friends and their private conversation opens."""
    async with ctx.transaction() as (conn, outbox):
        row = await _own_request(conn, request_id, user_id, as_recipient=True)
        if await store.is_blocked(conn, row["from_user_id"], user_id):
            raise Blocked("this user no longer accepts you as a friend")
        users = await get_users(conn, [row["from_user_id"], row["to_user_id"]])
        return await _accept(conn, outbox, row, users, now_ms())


async def decline_friend_request(ctx: Context, user_id: int, request_id: int) -> FriendRequest:
    """The recipient declines; the sender's devices learn it too."""
    return await _close(ctx, user_id, request_id, "declined", as_recipient=True)


async def cancel_friend_request(ctx: Context, user_id: int, request_id: int) -> FriendRequest:
    """The sender takes a pending request back."""
    return await _close(ctx, user_id, request_id, "cancelled", as_recipient=False)


async def list_friend_requests(
    ctx: Context, user_id: int
) -> tuple[list[FriendRequest], list[FriendRequest]]:
    """(incoming, outgoing): pending first, then the newest answered ones."""
    async with ctx.db.read() as conn:
        incoming = await store.list_requests(conn, user_id, incoming=True, limit=REQUESTS_LISTED)
        outgoing = await store.list_requests(conn, user_id, incoming=False, limit=REQUESTS_LISTED)
        ids = [r["from_user_id"] for r in incoming] + [r["to_user_id"] for r in outgoing]
        users = await get_users(conn, [user_id, *ids])
    return [_request(r, users) for r in incoming], [_request(r, users) for r in outgoing]


async def _own_request(
    conn: AsyncConnection, request_id: int, user_id: int, *, as_recipient: bool
) -> RowMapping:
    """The request if the caller may answer it in this role; others cannot see it at all."""
    row = await store.find_request(conn, request_id)
    if row is None or user_id not in (row["from_user_id"], row["to_user_id"]):
        raise NotFound("no such friend request")
    if as_recipient and row["to_user_id"] != user_id:
        raise Forbidden("only the recipient can answer a friend request")
    if not as_recipient and row["from_user_id"] != user_id:
        raise Forbidden("only the sender can cancel a friend request")
    if row["status"] != "pending":
        raise RequestNotPending(f"the friend request is already {row['status']}")
    return row


async def _close(
    ctx: Context, user_id: int, request_id: int, status: str, *, as_recipient: bool
) -> FriendRequest:
    async with ctx.transaction() as (conn, outbox):
        row = await _own_request(conn, request_id, user_id, as_recipient=as_recipient)
        now = now_ms()
        if not await store.close_request(conn, request_id, status, now):
            raise RequestNotPending()
        users = await get_users(conn, [row["from_user_id"], row["to_user_id"]])
        request = _request({**row, "status": status, "updated_at": now}, users)
        outbox.push(
            _request_event(f"friend_request_{status}", request),
            [row["from_user_id"], row["to_user_id"]],
        )
    return request


async def _accept(
    conn: AsyncConnection, outbox: Outbox, row: RowMapping, users: dict[int, User], now: int
) -> FriendRequest:
    sender, recipient = row["from_user_id"], row["to_user_id"]
    if not await store.close_request(conn, row["id"], "accepted", now):
        raise RequestNotPending()
    await store.close_pending_between(conn, sender, recipient, "accepted", now)
    await store.insert_friendship(conn, sender, recipient, now)
    # The private conversation opens empty: its first message is the users' own.
    conversation_id = await conversation_store.create_private(conn, sender, recipient, now)
    request = _request({**row, "status": "accepted", "updated_at": now}, users)
    outbox.push(
        event("friend_request_accepted", request=_dump(request), conversation_id=conversation_id),
        [sender, recipient],
    )
    return request


# -- friendships ------------------------------------------------------------------------


async def list_friends(ctx: Context, user_id: int) -> list[Friend]:
    """The caller's friends with their remark and live status (device kinds online, or
    when they were last seen)."""
    async with ctx.db.read() as conn:
        rows = await store.list_friendships(conn, user_id)
        friend_ids = [r["friend_id"] for r in rows]
        users = await get_users(conn, friend_ids)
        seen = await last_seen_of(conn, friend_ids)
    online = await _devices(ctx, friend_ids)
    return [
        _friend(row, users[fid], online.get(fid, []), seen.get(fid))
        for row in rows
        if (fid := row["friend_id"]) in users
    ]


async def remove_friend(ctx: Context, user_id: int, friend_id: int) -> None:
    """End a friendship on both sides; both sides' devices get ``friend_removed``."""
    async with ctx.transaction() as (conn, outbox):
        if not await store.delete_friendship(conn, user_id, friend_id):
            raise NotFound("this user is not in your friend list")
        outbox.push(event("friend_removed", user_id=friend_id, by=user_id), [user_id])
        outbox.push(event("friend_removed", user_id=user_id, by=user_id), [friend_id])


async def set_friend_remark(ctx: Context, user_id: int, friend_id: int, remark: str) -> Friend:
    """Name a friend privately; only the caller's devices hear of it."""
    remark = remark.strip()
    if len(remark) > MAX_REMARK_CHARS:
        raise InvalidRequest(f"remarks are limited to {MAX_REMARK_CHARS} characters")
    async with ctx.transaction() as (conn, outbox):
        if not await store.set_remark(conn, user_id, friend_id, remark):
            raise NotFound("this user is not in your friend list")
        row = await store.find_friendship(conn, user_id, friend_id)
        users = await get_users(conn, [friend_id])
        seen = await last_seen_of(conn, [friend_id])
        assert row is not None
        online = await _devices(ctx, [friend_id])
        friend = _friend(row, users[friend_id], online.get(friend_id, []), seen.get(friend_id))
        outbox.push(event("friend_updated", friend=_dump(friend)), [user_id])
    return friend


# -- blocks -----------------------------------------------------------------------------


async def block_user(ctx: Context, user_id: int, target_id: int) -> None:
    """Refuse messages and requests from ``target_id``; the friendship, if any, stays."""
    if target_id == user_id:
        raise InvalidRequest("you cannot block yourself")
    async with ctx.transaction() as (conn, outbox):
        if not await get_users(conn, [target_id]):
            raise NotFound("no such user")
        if await store.insert_block(conn, user_id, target_id, now_ms()):
            outbox.push(event("user_blocked", user_id=target_id), [user_id])


async def unblock_user(ctx: Context, user_id: int, target_id: int) -> None:
    async with ctx.transaction() as (conn, outbox):
        if not await store.delete_block(conn, user_id, target_id):
            raise NotFound("this user is not blocked")
        outbox.push(event("user_unblocked", user_id=target_id), [user_id])


async def list_blocked(ctx: Context, user_id: int) -> list[BlockedUser]:
    async with ctx.db.read() as conn:
        rows = await store.list_blocks(conn, user_id)
        users = await get_users(conn, [r["blocked_id"] for r in rows])
    return [
        BlockedUser(user=users[r["blocked_id"]], ts=r["created_at"])
        for r in rows
        if r["blocked_id"] in users
    ]


# -- helpers ----------------------------------------------------------------------------


async def _devices(ctx: Context, user_ids: list[int]) -> dict[int, list[str]]:
    """Who is online, per device kind; the registry failing makes everyone look offline."""
    if not user_ids:
        return {}
    try:
        return await ctx.connections.devices(user_ids)
    except Exception:
        log.exception("presence_lookup_failed", users=len(user_ids))
        return {}


def _request(row: Any, users: dict[int, User]) -> FriendRequest:
    return FriendRequest(
        id=row["id"],
        from_user=users[row["from_user_id"]],
        to_user=users[row["to_user_id"]],
        note=row["note"],
        status=row["status"],
        ts=row["updated_at"],
    )


def _friend(row: RowMapping, user: User, devices: list[str], last_seen: int | None) -> Friend:
    status = presence_of(devices, last_seen)
    return Friend(
        user=user,
        remark=row["remark"],
        online=status.online,
        devices=status.devices,
        last_seen=status.last_seen,
        since=row["created_at"],
    )


def _request_event(name: str, request: FriendRequest) -> EventFrame:
    return event(name, request=_dump(request))


def _dump(model: FriendRequest | Friend) -> dict[str, Any]:
    return model.model_dump(mode="json")
