"""Presence of friends: who is online, on which device kinds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from pigeon.actions import presence
from pigeon.common.models import Presence
from pigeon.platform.deps import Ctx, UserId
from pigeon.platform.schemas import Body

router = APIRouter(prefix="/presence", tags=["presence"])


class PresenceQueryBody(Body):
    user_ids: Annotated[list[Annotated[int, Field(gt=0, lt=2**63)]], Field(max_length=1000)]


class PresenceQueryOut(BaseModel):
    presence: dict[str, Presence]


@router.post("/query")
async def query(body: PresenceQueryBody, ctx: Ctx, user_id: UserId) -> PresenceQueryOut:
    """Online status (or last seen) of those of ``user_ids`` who are your friends (or you)."""
    found = await presence.query_presence(ctx, user_id, body.user_ids)
    return PresenceQueryOut(presence={str(uid): p for uid, p in found.items()})
