"""Invite links and join requests: another way into a group, through the same door.

The owner and admins make links (an unguessable token, optionally expiring or limited
in uses), list and revoke them. Any logged-in user holding a link may preview the group
and join it; a group whose join mode is ``approval`` takes a join request instead, which
the owner or an admin approves or declines. Joining goes through
:func:`pigeon.actions.groups.admit`, like an invitation: the same ``member_joined`` tip
and ``group_updated`` event, the same history and size rules.

Events (to users' devices, after the commit): ``join_requested`` to the owner and admins
``{"group_id", "user"}``, and ``join_request_decided`` to the requester
``{"group_id", "approved", "by"}``.

A link counts a use each time it brings someone in or files a request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context
from pigeon.actions.conversations import group_from_row
from pigeon.actions.groups import (
    Change,
    admit,
    announce,
    check_can_manage,
    check_size,
    finish,
    load_as_member,
)
from pigeon.actions.tips import display_name
from pigeon.common.clock import now_ms
from pigeon.common.errors import (
    Blocked,
    GroupDissolved,
    InviteExpired,
    InviteRevoked,
    InviteUsedUp,
    JoinRequestPending,
    NotFound,
)
from pigeon.common.models import Group, GroupInvite, InvitePreview, JoinRequest
from pigeon.common.protocol.frames import EventFrame
from pigeon.storage import friends as friend_store
from pigeon.storage import groups as store
from pigeon.storage import invites as invite_store
from pigeon.storage.users import get_users

TOKEN_BYTES = 16


@dataclass(frozen=True)
class Joined:
    """What a link did: ``joined`` (``group`` set) or ``requested`` (awaiting approval)."""

    status: Literal["joined", "requested"]
    group: Group | None = None


def check_usable(invite: RowMapping, now: int) -> None:
    """Revoked, expired or used up links say which, so the holder knows why."""
    if invite["revoked_at"] is not None:
        raise InviteRevoked()
    if invite["expires_at"] is not None and invite["expires_at"] <= now:
        raise InviteExpired()
    if invite["max_uses"] is not None and invite["uses"] >= invite["max_uses"]:
        raise InviteUsedUp()


def invite_from_row(row: RowMapping) -> GroupInvite:
    return GroupInvite(
        token=row["token"],
        group_id=row["group_id"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        revoked=row["revoked_at"] is not None,
    )


async def _managed(conn: AsyncConnection, group_id: int, user_id: int) -> RowMapping:
    group, role = await load_as_member(conn, group_id, user_id)
    check_can_manage(role)
    return group


async def create_invite(
    ctx: Context,
    user_id: int,
    group_id: int,
    *,
    expires_in_s: int | None = None,
    max_uses: int | None = None,
) -> GroupInvite:
    """Owner/admins: a new link, valid for ``expires_in_s`` and ``max_uses`` if given."""
    now = now_ms()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with ctx.transaction() as (conn, _):
        await _managed(conn, group_id, user_id)
        await invite_store.insert_invite(
            conn,
            token=token,
            group_id=group_id,
            created_by=user_id,
            now=now,
            expires_at=None if expires_in_s is None else now + expires_in_s * 1000,
            max_uses=max_uses,
        )
        row = await invite_store.find_invite(conn, token)
    assert row is not None
    return invite_from_row(row)


async def list_invites(ctx: Context, user_id: int, group_id: int) -> list[GroupInvite]:
    """Owner/admins: every link of the group, oldest first, revoked ones included."""
    async with ctx.transaction() as (conn, _):
        await _managed(conn, group_id, user_id)
        return [invite_from_row(r) for r in await invite_store.list_invites(conn, group_id)]


async def revoke_invite(ctx: Context, user_id: int, group_id: int, token: str) -> None:
    async with ctx.transaction() as (conn, _):
        await _managed(conn, group_id, user_id)
        if not await invite_store.revoke_invite(conn, group_id, token, now_ms()):
            raise NotFound("no such invite link in this group")


async def _usable(
    conn: AsyncConnection, token: str, *, lock: bool = True
) -> tuple[RowMapping, RowMapping]:
    """The link and its group (locked to join), if the link works and the group is open."""
    invite = await invite_store.find_invite(conn, token)
    if invite is None:
        raise NotFound("no such invite link")
    find = store.lock_group if lock else store.find_group
    group = await find(conn, invite["group_id"])
    assert group is not None
    check_usable(invite, now_ms())
    if group["dissolved_at"] is not None:
        raise GroupDissolved()
    return invite, group


async def preview_invite(ctx: Context, token: str) -> InvitePreview:
    """What the link leads to, for any logged-in user."""
    async with ctx.db.read() as conn:
        _invite, group = await _usable(conn, token, lock=False)
    return InvitePreview(
        group_id=group["conversation_id"],
        name=group["name"],
        avatar_url=group["avatar_url"],
        member_count=group["member_count"],
        join_mode=group["join_mode"],
    )


async def join_by_invite(ctx: Context, user_id: int, token: str) -> Joined:
    """Join by a link, or ask to (an approval-only group). A member joins as a no-op."""
    hot = ctx.settings.messaging.hot_group_threshold
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, outbox):
        invite, group = await _usable(conn, token)
        group_id = group["conversation_id"]
        role = (await store.roles_of(conn, group_id, [user_id])).get(user_id)
        if role is not None:
            return Joined("joined", group_from_row(group, role, hot))
        if await friend_store.blockers_among(conn, [invite["created_by"]], user_id):
            raise Blocked("the owner of this invite link does not accept you")
        check_size(group["member_count"] + 1, ctx.settings.messaging)
        users = await get_users(conn, [user_id])
        if group["join_mode"] == "approval":
            if await invite_store.find_request(conn, group_id, user_id) is not None:
                raise JoinRequestPending()
            await invite_store.insert_request(conn, group_id, user_id, token, now_ms())
            await invite_store.count_use(conn, token)
            frame = EventFrame(
                event="join_requested",
                data={"group_id": group_id, "user": users[user_id].model_dump(mode="json")},
            )
            outbox.push(frame, await store.manager_ids(conn, group_id))
            return Joined("requested")
        text = f"{display_name(users.get(user_id))} joined the group by an invite link"
        await admit(ctx, conn, group, [user_id], change, text, via="link")
        await invite_store.count_use(conn, token)
        await finish(conn, change, group_id)
    await announce(ctx, change)
    assert change.group is not None
    return Joined("joined", group_from_row(change.group, "member", hot))


async def list_join_requests(ctx: Context, user_id: int, group_id: int) -> list[JoinRequest]:
    """Owner/admins: the pending requests, oldest first."""
    async with ctx.transaction() as (conn, _):
        await _managed(conn, group_id, user_id)
        rows = await invite_store.list_requests(conn, group_id)
        users = await get_users(conn, [r["user_id"] for r in rows])
    return [
        JoinRequest(user=users[r["user_id"]], group_id=group_id, created_at=r["created_at"])
        for r in rows
        if r["user_id"] in users
    ]


async def answer_join_request(
    ctx: Context, user_id: int, group_id: int, requester_id: int, *, approve: bool
) -> None:
    """Owner/admins approve (the requester joins) or decline; the requester is told."""
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, outbox):
        group = await _managed(conn, group_id, user_id)
        if await invite_store.find_request(conn, group_id, requester_id) is None:
            raise NotFound("no pending join request from that user")
        await invite_store.delete_request(conn, group_id, requester_id)
        if approve and not await store.roles_of(conn, group_id, [requester_id]):
            users = await get_users(conn, [user_id, requester_id])
            text = (
                f"{display_name(users.get(user_id))} let "
                f"{display_name(users.get(requester_id))} join the group"
            )
            await admit(ctx, conn, group, [requester_id], change, text, via="request")
        frame = EventFrame(
            event="join_request_decided",
            data={"group_id": group_id, "approved": approve, "by": user_id},
        )
        outbox.push(frame, [requester_id])
        await finish(conn, change, group_id)
    await announce(ctx, change)
