"""A conversation's gallery: the images, files and voice clips its members sent there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pigeon.actions.context import Context
from pigeon.actions.conversations import require_member
from pigeon.common.errors import InvalidRequest
from pigeon.common.models import MEDIA_KINDS, Message
from pigeon.storage import messages as message_store


@dataclass(frozen=True)
class MediaPage:
    conversation_id: int
    items: list[Message]
    has_more: bool


async def list_media(
    ctx: Context,
    user_id: int,
    conversation_id: int,
    *,
    kinds: Sequence[str] = MEDIA_KINDS,
    before: int | None = None,
    limit: int = 50,
) -> MediaPage:
    """A page of attachment messages, newest first, paged with ``before`` (the seq of the
    oldest one held). Members only; what they may see of the history (after their
    ``visible_from_seq``), and nothing recalled."""
    wanted = sorted(set(kinds))
    unknown = [kind for kind in wanted if kind not in MEDIA_KINDS]
    if unknown or not wanted:
        raise InvalidRequest(f"kind must be any of {', '.join(MEDIA_KINDS)}")
    limit = max(1, min(limit, ctx.settings.messaging.page_limit_max))
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        items, more = await message_store.media_page(
            conn,
            conversation_id,
            wanted,
            before if before is not None else 2**62,
            membership["visible_from_seq"],
            limit,
        )
    return MediaPage(conversation_id, items, more)
