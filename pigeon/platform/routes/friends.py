"""Friends: requests, the friend list with live status, remarks, removal and blocks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from pigeon.actions import friends
from pigeon.common.models import BlockedUser, Friend, FriendRequest
from pigeon.platform.deps import Ctx, UserId

router = APIRouter(tags=["friends"])
TargetId = Annotated[int, Path(gt=0, lt=2**63)]


class FriendRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Annotated[int, Field(gt=0, lt=2**63)]
    note: Annotated[str, Field(max_length=friends.MAX_NOTE_CHARS)] = ""


class RemarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remark: Annotated[str, Field(max_length=friends.MAX_REMARK_CHARS)]


class FriendsOut(BaseModel):
    friends: list[Friend]


class FriendRequestsOut(BaseModel):
    incoming: list[FriendRequest]
    outgoing: list[FriendRequest]


class BlocksOut(BaseModel):
    blocks: list[BlockedUser]


@router.get("/friends")
async def list_friends(ctx: Ctx, user_id: UserId) -> FriendsOut:
    """The caller's friends, each with the caller's remark and live status: ``online`` and
    the device kinds (``web``, ``desktop``, ``mobile``) currently connected."""
    return FriendsOut(friends=await friends.list_friends(ctx, user_id))


@router.post("/friends/requests", status_code=status.HTTP_201_CREATED)
async def send_request(body: FriendRequestBody, ctx: Ctx, user_id: UserId) -> FriendRequest:
    """Ask a user to be friends, with a short note.

    Both sides' devices get a ``friend_request`` event. Asking again while a request is
    pending returns it; if the other user already asked you, their request is accepted.
    Refused with ``blocked`` if they blocked you, ``already_friends`` if you are.
    """
    return await friends.send_friend_request(ctx, user_id, body.user_id, body.note)


@router.get("/friends/requests")
async def list_requests(ctx: Ctx, user_id: UserId) -> FriendRequestsOut:
    """Requests to and from the caller: pending ones first, then the newest answered."""
    incoming, outgoing = await friends.list_friend_requests(ctx, user_id)
    return FriendRequestsOut(incoming=incoming, outgoing=outgoing)


@router.post("/friends/requests/{request_id}/accept")
async def accept_request(request_id: TargetId, ctx: Ctx, user_id: UserId) -> FriendRequest:
    """The recipient accepts: both become friends, their private conversation opens with a
    "You are now friends" tip, both sides get ``friend_request_accepted``."""
    return await friends.accept_friend_request(ctx, user_id, request_id)


@router.post("/friends/requests/{request_id}/decline")
async def decline_request(request_id: TargetId, ctx: Ctx, user_id: UserId) -> FriendRequest:
    """The recipient declines; both sides get ``friend_request_declined``."""
    return await friends.decline_friend_request(ctx, user_id, request_id)


@router.post("/friends/requests/{request_id}/cancel")
async def cancel_request(request_id: TargetId, ctx: Ctx, user_id: UserId) -> FriendRequest:
    """The sender withdraws a pending request; both sides get ``friend_request_cancelled``."""
    return await friends.cancel_friend_request(ctx, user_id, request_id)


@router.delete("/friends/{friend_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_friend(friend_id: TargetId, ctx: Ctx, user_id: UserId) -> Response:
    """End the friendship on both sides; both get ``friend_removed``. The conversation's
    history stays, but private messages need friendship again (if the server requires it)."""
    await friends.remove_friend(ctx, user_id, friend_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/friends/{friend_id}")
async def set_remark(friend_id: TargetId, body: RemarkBody, ctx: Ctx, user_id: UserId) -> Friend:
    """Set the caller's private name for a friend; the caller's devices get
    ``friend_updated``."""
    return await friends.set_friend_remark(ctx, user_id, friend_id, body.remark)


@router.get("/blocks")
async def list_blocks(ctx: Ctx, user_id: UserId) -> BlocksOut:
    """Users the caller blocked, most recent first."""
    return BlocksOut(blocks=await friends.list_blocked(ctx, user_id))


@router.post("/blocks/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def block(target_id: TargetId, ctx: Ctx, user_id: UserId) -> Response:
    """Block a user: they can no longer message you, send you friend requests or add you to
    groups. They are not told. Blocking twice is a no-op."""
    await friends.block_user(ctx, user_id, target_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/blocks/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unblock(target_id: TargetId, ctx: Ctx, user_id: UserId) -> Response:
    """Unblock a user: they may message and ask you again (friendship rules apply)."""
    await friends.unblock_user(ctx, user_id, target_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
