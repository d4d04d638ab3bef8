"""Conversations and their messages: list, open, settings, history by seq, send, read,
recall."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from pigeon.actions import conversations, messages, sending
from pigeon.common.models import Ack, Conversation
from pigeon.platform.deps import Ctx, Device, UserId
from pigeon.platform.schemas import (
    ConversationsOut,
    MessagesOut,
    OpenPrivateBody,
    ReadBody,
    SendBody,
    SendPrivateBody,
    SettingsBody,
)

router = APIRouter(tags=["conversations"])
ConversationId = Annotated[int, Path(gt=0, lt=2**63)]
SeqQuery = Annotated[int | None, Query(ge=0, lt=2**62)]


@router.get("/conversations")
async def list_conversations(ctx: Ctx, user_id: UserId, device: Device) -> ConversationsOut:
    """Every conversation of the caller, most recent activity first, with unread counts."""
    found = await conversations.list_conversations(ctx, user_id, device=device)
    return ConversationsOut(conversations=found)


@router.post("/conversations/private")
async def open_private(body: OpenPrivateBody, ctx: Ctx, user_id: UserId) -> Conversation:
    return await conversations.open_private_conversation(ctx, user_id, body.user_id)


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: ConversationId, ctx: Ctx, user_id: UserId, device: Device
) -> Conversation:
    return await conversations.get_conversation(ctx, user_id, conversation_id, device=device)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagesOut)
async def history(
    conversation_id: ConversationId,
    ctx: Ctx,
    user_id: UserId,
    device: Device,
    after: SeqQuery = None,
    before: SeqQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """A page by seq: ``after`` for catching up, ``before`` for scrolling back, else newest."""
    page = await messages.fetch_messages(
        ctx, user_id, conversation_id, after=after, before=before, limit=limit, device=device
    )
    out = MessagesOut(
        conversation_id=page.conversation_id, messages=page.messages, has_more=page.has_more
    )
    # Encoded once, straight from the models: a hot group's members pull every message,
    # and re-validating each page through the response model cost more than reading it.
    return Response(out.model_dump_json(), media_type="application/json")


@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def send(conversation_id: ConversationId, body: SendBody, ctx: Ctx, user_id: UserId) -> Ack:
    """Store a message; the ack means it is durable. Retrying a client_msg_id is a no-op."""
    draft = sending.Draft(
        client_msg_id=body.client_msg_id,
        kind=body.kind,
        body=body.body,
        conversation_id=conversation_id,
        mentions=body.mentions,
        mention_all=body.mention_all,
        reply_to=body.reply_to,
    )
    return await sending.send_message(ctx, user_id, draft)


@router.post("/messages/private", status_code=status.HTTP_201_CREATED)
async def send_private(body: SendPrivateBody, ctx: Ctx, user_id: UserId) -> Ack:
    """Send to a user, opening the private conversation on first use."""
    draft = sending.Draft(
        client_msg_id=body.client_msg_id,
        kind=body.kind,
        body=body.body,
        to_user_id=body.to_user_id,
        reply_to=body.reply_to,
    )
    return await sending.send_message(ctx, user_id, draft)


@router.post("/conversations/{conversation_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def mark_read(
    conversation_id: ConversationId, body: ReadBody, ctx: Ctx, user_id: UserId, device: Device
) -> Response:
    await messages.mark_read(ctx, user_id, conversation_id, body.seq, device=device)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/conversations/{conversation_id}/settings")
async def change_settings(
    conversation_id: ConversationId, body: SettingsBody, ctx: Ctx, user_id: UserId
) -> Conversation:
    """Your own settings for a conversation (mute, pin to top, archive), on all your devices."""
    return await conversations.change_settings(
        ctx, user_id, conversation_id, **body.model_dump(exclude_none=True)
    )


@router.post("/messages/{message_id}/recall")
async def recall(
    message_id: Annotated[int, Path(gt=0, lt=2**63)], ctx: Ctx, user_id: UserId
) -> Ack:
    """Recall a message (own within the window; group owner/admins any time)."""
    return await messages.recall_message(ctx, user_id, message_id)
