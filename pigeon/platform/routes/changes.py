"""What one does to stored messages: edit, react, pin, forward; and the feed of changes a
device missed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query

from pigeon.actions import changes, forwarding, pins
from pigeon.common.models import Message
from pigeon.platform.deps import Ctx, UserId
from pigeon.platform.errors import ErrorDetail
from pigeon.platform.schemas import (
    ChangesOut,
    EarlierBodyOut,
    EditBody,
    EditsOut,
    ForwardBody,
    ForwardedOut,
    ForwardsOut,
    PinOut,
    PinsOut,
    ReactorOut,
    ReactorsOut,
)

router = APIRouter(tags=["messages"])
MessageId = Annotated[int, Path(gt=0, lt=2**63)]
ConversationId = Annotated[int, Path(gt=0, lt=2**63)]
Emoji = Annotated[str, Path(min_length=1, max_length=64)]


@router.patch("/messages/{message_id}")
async def edit(message_id: MessageId, body: EditBody, ctx: Ctx, user_id: UserId) -> Message:
    """Edit one's own text message within ``messaging.edit_window_s``."""
    return await changes.edit_message(ctx, user_id, message_id, body.text)


@router.get("/messages/{message_id}/edits")
async def edits(message_id: MessageId, ctx: Ctx, user_id: UserId) -> EditsOut:
    """The earlier texts of one's own message, oldest first."""
    found = await changes.edit_history(ctx, user_id, message_id)
    return EditsOut(edits=[EarlierBodyOut(**asdict(e)) for e in found])


@router.put("/messages/{message_id}/reactions/{emoji}")
async def react(message_id: MessageId, emoji: Emoji, ctx: Ctx, user_id: UserId) -> Message:
    """Add a reaction (one emoji, URL-encoded); adding it twice changes nothing."""
    return await changes.react(ctx, user_id, message_id, emoji)


@router.delete("/messages/{message_id}/reactions/{emoji}")
async def unreact(message_id: MessageId, emoji: Emoji, ctx: Ctx, user_id: UserId) -> Message:
    """Take one's reaction off; one that is not there changes nothing."""
    return await changes.unreact(ctx, user_id, message_id, emoji)


@router.get("/messages/{message_id}/reactions")
async def reactors(
    message_id: MessageId,
    ctx: Ctx,
    user_id: UserId,
    emoji: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> ReactorsOut:
    """Everyone who reacted (with one emoji, or with any), oldest first."""
    found = await changes.list_reactors(ctx, user_id, message_id, emoji)
    return ReactorsOut(reactions=[ReactorOut(**asdict(r)) for r in found])


@router.get("/conversations/{conversation_id}/changes")
async def changes_after(
    conversation_id: ConversationId,
    ctx: Ctx,
    user_id: UserId,
    after: Annotated[int, Query(ge=0, lt=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> ChangesOut:
    """Messages edited or reacted to after change ``after`` (a conversation's
    ``last_change`` as the device last saw it)."""
    page = await changes.fetch_changes(ctx, user_id, conversation_id, after=after, limit=limit)
    return ChangesOut(**asdict(page))


@router.post("/messages/{message_id}/pin", status_code=201)
async def pin(message_id: MessageId, ctx: Ctx, user_id: UserId) -> Message:
    """Pin a message (either side of a private chat; a group's owner and admins); the
    tip that tells the members."""
    return await pins.pin_message(ctx, user_id, message_id)


@router.delete("/messages/{message_id}/pin")
async def unpin(message_id: MessageId, ctx: Ctx, user_id: UserId) -> Message:
    """Unpin a message; the tip that tells the members."""
    return await pins.unpin_message(ctx, user_id, message_id)


@router.get("/conversations/{conversation_id}/pins")
async def list_pins(conversation_id: ConversationId, ctx: Ctx, user_id: UserId) -> PinsOut:
    """The conversation's pinned messages you may see, latest pin first."""
    found = await pins.list_pins(ctx, user_id, conversation_id)
    return PinsOut(pins=[PinOut(**asdict(p)) for p in found])


@router.post("/messages/forward")
async def forward(body: ForwardBody, ctx: Ctx, user_id: UserId) -> ForwardsOut:
    """Send copies of messages you can see to other conversations; per target, the acks
    or the refusal. Retrying with the same ``client_msg_id`` stores nothing twice."""
    results = await forwarding.forward_messages(
        ctx, user_id, body.message_ids, body.conversation_ids, client_msg_id=body.client_msg_id
    )
    return ForwardsOut(
        results=[
            ForwardedOut(
                conversation_id=r.conversation_id,
                acks=r.acks,
                error=ErrorDetail(code=r.error.code, message=r.error.message) if r.error else None,
            )
            for r in results
        ]
    )
