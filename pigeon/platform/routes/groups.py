"""Groups: create, read, manage members and roles, leave, dissolve; message readers.

Every change is stored in the group as a ``system`` message and announced to members as a
``group_updated`` event (see docs/protocol.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from pigeon.actions import groups, invites
from pigeon.common.models import (
    Group,
    GroupInvite,
    GroupMember,
    InvitePreview,
    JoinMode,
    JoinRequest,
)
from pigeon.platform.deps import Ctx, UserId

router = APIRouter(tags=["groups"])
GroupId = Annotated[int, Path(gt=0, lt=2**63)]
TargetId = Annotated[int, Path(gt=0, lt=2**63)]
Token = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
UserIds = Annotated[list[Annotated[int, Field(gt=0, lt=2**63)]], Field(max_length=10_000)]
NO_CONTENT = status.HTTP_204_NO_CONTENT


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateGroupBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=groups.MAX_NAME_CHARS)]
    member_ids: UserIds


class UpdateGroupBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=groups.MAX_NAME_CHARS)] | None = None
    notice: Annotated[str, Field(max_length=groups.MAX_NOTICE_CHARS)] | None = None
    avatar_url: Annotated[str, Field(max_length=groups.MAX_AVATAR_CHARS)] | None = None
    hot: bool | None = Field(
        default=None,
        description="push + pull for this group whatever its size (members get notices "
        "and pull); groups of at least the hot-group threshold are hot anyway",
    )
    join_mode: JoinMode | None = Field(
        default=None,
        description="how invite links let people in: at once (link) or by a join request "
        "an owner or admin approves (approval)",
    )
    muted_all: bool | None = Field(
        default=None, description="only the owner and admins may send while true"
    )


class MuteBody(_Body):
    duration_s: Annotated[int, Field(ge=1, lt=2**31)]


class CreateInviteBody(_Body):
    expires_in_s: Annotated[int, Field(ge=1, lt=2**31)] | None = None
    max_uses: Annotated[int, Field(ge=1, lt=2**31)] | None = None


class InvitesOut(BaseModel):
    invites: list[GroupInvite]


class JoinOut(BaseModel):
    status: Literal["joined", "requested"]
    group: Group | None = Field(description="the group joined; null while a request waits")


class JoinRequestsOut(BaseModel):
    requests: list[JoinRequest]


class InviteBody(_Body):
    user_ids: Annotated[UserIds, Field(min_length=1)]


class TransferBody(_Body):
    user_id: Annotated[int, Field(gt=0, lt=2**63)]


class AliasBody(_Body):
    alias: Annotated[str, Field(max_length=groups.MAX_ALIAS_CHARS)]


class MembersOut(BaseModel):
    members: list[GroupMember]
    next: int | None = Field(
        description="pass as after_user_id for the next page; null on the last page"
    )


class ReadersOut(BaseModel):
    read_count: int
    readers: list[int]


@router.post("/groups", status_code=status.HTTP_201_CREATED)
async def create_group(body: CreateGroupBody, ctx: Ctx, user_id: UserId) -> Group:
    """Create a group owned by the caller with ``member_ids`` (the caller's friends, unless
    the server allows anyone): 2 to ``max_group_members`` members in all. The group's id is
    its conversation id. Members get a ``group_created`` tip and a ``group_updated`` event."""
    return await groups.create_group(ctx, user_id, body.name, body.member_ids)


@router.get("/groups/{group_id}")
async def get_group(group_id: GroupId, ctx: Ctx, user_id: UserId) -> Group:
    """The group as the caller sees it (``my_role``). Members only."""
    return await groups.get_group(ctx, user_id, group_id)


@router.patch("/groups/{group_id}")
async def update_group(
    group_id: GroupId, body: UpdateGroupBody, ctx: Ctx, user_id: UserId
) -> Group:
    """Owner or admins: change the name, notice or avatar (one tip per changed field), or
    mark the group hot (``hot_changed`` event, no tip)."""
    return await groups.update_group(
        ctx,
        user_id,
        group_id,
        name=body.name,
        notice=body.notice,
        avatar_url=body.avatar_url,
        hot=body.hot,
        join_mode=body.join_mode,
        muted_all=body.muted_all,
    )


@router.get("/groups/{group_id}/members")
async def list_members(
    group_id: GroupId,
    ctx: Ctx,
    user_id: UserId,
    after_user_id: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    q: Annotated[str, Query(max_length=64)] = "",
) -> MembersOut:
    """Members ordered by user id, a page at a time (keyset: pass ``next`` as
    ``after_user_id``); ``q``: only those whose username, nickname or group alias starts
    with it, in any case. Members only."""
    members, following = await groups.list_members(
        ctx, user_id, group_id, after_user_id=after_user_id, limit=limit, prefix=q
    )
    return MembersOut(members=members, next=following)


@router.post("/groups/{group_id}/members")
async def invite(group_id: GroupId, body: InviteBody, ctx: Ctx, user_id: UserId) -> Group:
    """Owner or admins (or any member if the server allows): add users. Users already in
    the group are skipped. New members see history from their joining on."""
    return await groups.invite_members(ctx, user_id, group_id, body.user_ids)


@router.delete("/groups/{group_id}/members/{target_id}", status_code=NO_CONTENT)
async def kick(group_id: GroupId, target_id: TargetId, ctx: Ctx, user_id: UserId) -> Response:
    """Remove a member: the owner anyone, admins ordinary members. The removed user loses
    access at once and gets a ``group_updated`` event."""
    await groups.kick_member(ctx, user_id, group_id, target_id)
    return Response(status_code=NO_CONTENT)


@router.put("/groups/{group_id}/mutes/{target_id}")
async def mute(
    group_id: GroupId, target_id: TargetId, body: MuteBody, ctx: Ctx, user_id: UserId
) -> GroupMember:
    """Owner or admins: the member's sends are refused (403 ``member_muted``) for
    ``duration_s`` seconds. The owner mutes anyone but themselves, admins ordinary members
    only. A ``member_muted`` tip."""
    return await groups.mute_member(ctx, user_id, group_id, target_id, body.duration_s)


@router.delete("/groups/{group_id}/mutes/{target_id}")
async def unmute(group_id: GroupId, target_id: TargetId, ctx: Ctx, user_id: UserId) -> GroupMember:
    """Owner or admins: lift a member's mute at once (a ``member_unmuted`` tip)."""
    return await groups.mute_member(ctx, user_id, group_id, target_id, 0)


@router.post("/groups/{group_id}/invites", status_code=status.HTTP_201_CREATED)
async def create_invite(
    group_id: GroupId, body: CreateInviteBody, ctx: Ctx, user_id: UserId
) -> GroupInvite:
    """Owner or admins: a new invite link (its ``token``), optionally expiring after
    ``expires_in_s`` or after ``max_uses`` uses."""
    return await invites.create_invite(
        ctx, user_id, group_id, expires_in_s=body.expires_in_s, max_uses=body.max_uses
    )


@router.get("/groups/{group_id}/invites")
async def list_invites(group_id: GroupId, ctx: Ctx, user_id: UserId) -> InvitesOut:
    """Owner or admins: the group's invite links, revoked ones included."""
    return InvitesOut(invites=await invites.list_invites(ctx, user_id, group_id))


@router.delete("/groups/{group_id}/invites/{token}", status_code=NO_CONTENT)
async def revoke_invite(group_id: GroupId, token: Token, ctx: Ctx, user_id: UserId) -> Response:
    """Owner or admins: the link stops working (410 ``invite_revoked``)."""
    await invites.revoke_invite(ctx, user_id, group_id, token)
    return Response(status_code=NO_CONTENT)


@router.get("/invites/{token}")
async def preview_invite(token: Token, ctx: Ctx, user_id: UserId) -> InvitePreview:
    """Any logged-in user: the group a link leads to. 410 ``invite_revoked``,
    ``invite_expired`` or ``invite_used_up`` once the link no longer works."""
    return await invites.preview_invite(ctx, token)


@router.post("/invites/{token}/join")
async def join_by_invite(token: Token, ctx: Ctx, user_id: UserId) -> JoinOut:
    """Join the group by a link (``joined``), or, if it takes approval, file a join request
    (``requested``; one pending per user and group: 409 ``join_request_pending``)."""
    joined = await invites.join_by_invite(ctx, user_id, token)
    return JoinOut(status=joined.status, group=joined.group)


@router.get("/groups/{group_id}/join-requests")
async def list_join_requests(group_id: GroupId, ctx: Ctx, user_id: UserId) -> JoinRequestsOut:
    """Owner or admins: the pending join requests, oldest first."""
    return JoinRequestsOut(requests=await invites.list_join_requests(ctx, user_id, group_id))


@router.post("/groups/{group_id}/join-requests/{target_id}/approve", status_code=NO_CONTENT)
async def approve_join_request(
    group_id: GroupId, target_id: TargetId, ctx: Ctx, user_id: UserId
) -> Response:
    """Owner or admins: the requester joins (the ``member_joined`` tip) and is told."""
    await invites.answer_join_request(ctx, user_id, group_id, target_id, approve=True)
    return Response(status_code=NO_CONTENT)


@router.post("/groups/{group_id}/join-requests/{target_id}/decline", status_code=NO_CONTENT)
async def decline_join_request(
    group_id: GroupId, target_id: TargetId, ctx: Ctx, user_id: UserId
) -> Response:
    """Owner or admins: refuse the request; the requester is told."""
    await invites.answer_join_request(ctx, user_id, group_id, target_id, approve=False)
    return Response(status_code=NO_CONTENT)


@router.post("/groups/{group_id}/quit", status_code=NO_CONTENT)
async def quit_group(group_id: GroupId, ctx: Ctx, user_id: UserId) -> Response:
    """Leave the group. The owner must transfer ownership or dissolve it first."""
    await groups.quit_group(ctx, user_id, group_id)
    return Response(status_code=NO_CONTENT)


@router.post("/groups/{group_id}/dissolve", status_code=NO_CONTENT)
async def dissolve(group_id: GroupId, ctx: Ctx, user_id: UserId) -> Response:
    """Owner only: end the group. History stays readable; sends get 410
    ``group_dissolved``."""
    await groups.dissolve_group(ctx, user_id, group_id)
    return Response(status_code=NO_CONTENT)


@router.post("/groups/{group_id}/transfer")
async def transfer(group_id: GroupId, body: TransferBody, ctx: Ctx, user_id: UserId) -> Group:
    """Owner only: hand the group to another member; the caller becomes a member."""
    return await groups.transfer_ownership(ctx, user_id, group_id, body.user_id)


@router.post("/groups/{group_id}/admins/{target_id}", status_code=NO_CONTENT)
async def add_admin(group_id: GroupId, target_id: TargetId, ctx: Ctx, user_id: UserId) -> Response:
    """Owner only: make a member an admin (a no-op if they already are)."""
    await groups.set_admin(ctx, user_id, group_id, target_id, admin=True)
    return Response(status_code=NO_CONTENT)


@router.delete("/groups/{group_id}/admins/{target_id}", status_code=NO_CONTENT)
async def remove_admin(
    group_id: GroupId, target_id: TargetId, ctx: Ctx, user_id: UserId
) -> Response:
    """Owner only: make an admin an ordinary member again."""
    await groups.set_admin(ctx, user_id, group_id, target_id, admin=False)
    return Response(status_code=NO_CONTENT)


@router.patch("/groups/{group_id}/me")
async def set_alias(group_id: GroupId, body: AliasBody, ctx: Ctx, user_id: UserId) -> GroupMember:
    """Set the caller's name in this group (empty: use the nickname)."""
    return await groups.set_alias(ctx, user_id, group_id, body.alias)


@router.get("/conversations/{conversation_id}/messages/{seq}/readers", tags=["conversations"])
async def readers(
    conversation_id: GroupId,
    seq: Annotated[int, Path(ge=1, lt=2**62)],
    ctx: Ctx,
    user_id: UserId,
) -> ReadersOut:
    """Who has read the message at ``seq``: members (not its sender) whose read marker
    reached it. Members only."""
    found = await groups.list_readers(ctx, user_id, conversation_id, seq)
    return ReadersOut(read_count=len(found), readers=found)
