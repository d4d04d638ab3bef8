"""Profiles and user search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pigeon.actions import accounts
from pigeon.common.errors import InvalidRequest
from pigeon.common.models import User
from pigeon.platform.deps import Ctx, UserId
from pigeon.platform.schemas import ProfileBody, UsersOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def me(ctx: Ctx, user_id: UserId) -> User:
    return await accounts.get_user(ctx, user_id)


@router.patch("/me")
async def update_me(body: ProfileBody, ctx: Ctx, user_id: UserId) -> User:
    return await accounts.update_profile(
        ctx,
        user_id,
        nickname=body.nickname,
        avatar_url=body.avatar_url,
        signature=body.signature,
    )


@router.get("")
async def search(
    ctx: Ctx,
    _user_id: UserId,
    q: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ids: Annotated[
        str | None,
        Query(max_length=2000, pattern=r"^[1-9][0-9]{0,18}(,[1-9][0-9]{0,18})*$"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> UsersOut:
    """Users whose username or nickname starts with ``q``, or the profiles of ``ids``
    (comma-separated, at most 100; unknown ids are left out)."""
    if (q is None) == (ids is None):
        raise InvalidRequest("give either q (a search) or ids (a lookup)")
    if ids is not None:
        user_ids = [int(part) for part in ids.split(",")]
        if any(uid >= 2**63 for uid in user_ids):
            raise InvalidRequest("user ids are below 2^63")
        return UsersOut(users=await accounts.get_users(ctx, user_ids))
    assert q is not None
    return UsersOut(users=await accounts.search_users(ctx, q, limit))


@router.get("/{user_id}")
async def get_user(
    ctx: Ctx, _caller: UserId, user_id: Annotated[int, Path(gt=0, lt=2**63)]
) -> User:
    return await accounts.get_user(ctx, user_id)
