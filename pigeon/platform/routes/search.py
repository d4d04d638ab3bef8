"""Search: the caller's messages by text, ranked and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pigeon.actions import search
from pigeon.common.models import SearchPage
from pigeon.platform.deps import Ctx, UserId

router = APIRouter(tags=["search"])


@router.get("/search/messages")
async def search_messages(
    ctx: Ctx,
    user_id: UserId,
    q: Annotated[str, Query(max_length=1000, description="words that must all occur")],
    conversation_id: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchPage:
    """Text messages the caller may see that hold every word of ``q`` (as substrings, any
    case; Chinese and Japanese need no spaces), best match first, newer first on a tie.
    Each hit carries the message (its conversation id and seq to jump to) and a snippet
    with the matches marked. ``next_cursor`` asks for the next page."""
    return await search.search_messages(
        ctx, user_id, q, conversation_id=conversation_id, cursor=cursor, limit=limit
    )
