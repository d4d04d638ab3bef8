"""Authenticated requests from a socket, turned into actions and answered with frames."""

from __future__ import annotations

import structlog

from pigeon.actions.context import Context
from pigeon.actions.messages import fetch_messages, mark_read, recall_message, send_typing
from pigeon.actions.sending import Draft, send_message
from pigeon.common.errors import PigeonError
from pigeon.common.models import Ack
from pigeon.common.protocol.frames import (
    AckFrame,
    ClientFrame,
    ErrorFrame,
    MessagesFrame,
    ReadFrame,
    RecallFrame,
    SendFrame,
    ServerFrame,
    SyncFrame,
    TypingFrame,
)
from pigeon.gateway.connection import Connection

log = structlog.get_logger(__name__)


async def handle_request(
    ctx: Context, connection: Connection, frame: ClientFrame
) -> ServerFrame | None:
    """Carry out one request; the frame to answer with, if any."""
    ref = getattr(frame, "ref", None)
    try:
        return await _handle(ctx, connection, frame)
    except PigeonError as exc:
        log.info("request_refused", code=exc.code, frame=frame.type, user=connection.user_id)
        return ErrorFrame(ref=ref, code=exc.code, message=exc.message)
    except Exception:
        log.exception("request_failed", frame=frame.type, user=connection.user_id)
        return ErrorFrame(ref=ref, code="internal", message="internal error, try again")


async def _handle(ctx: Context, connection: Connection, frame: ClientFrame) -> ServerFrame | None:
    user_id = connection.user_id
    if isinstance(frame, SendFrame):
        draft = Draft(
            client_msg_id=frame.client_msg_id,
            kind=frame.kind,
            body=frame.body,
            conversation_id=frame.conversation_id,
            to_user_id=frame.to_user_id,
            mentions=list(frame.mentions),
            mention_all=frame.mention_all,
            reply_to=frame.reply_to,
        )
        ack = await send_message(
            ctx, user_id, draft, exclude_connection=connection.id, device=connection.device
        )
        return _ack_frame(frame.ref, ack)
    if isinstance(frame, SyncFrame):
        page = await fetch_messages(
            ctx,
            user_id,
            frame.conversation_id,
            after=frame.after,
            limit=frame.limit,
            device=connection.device,
        )
        return MessagesFrame(
            ref=frame.ref,
            conversation_id=page.conversation_id,
            messages=page.messages,
            has_more=page.has_more,
        )
    if isinstance(frame, ReadFrame):
        await mark_read(
            ctx,
            user_id,
            frame.conversation_id,
            frame.seq,
            exclude_connection=connection.id,
            device=connection.device,
        )
        return None
    if isinstance(frame, TypingFrame):
        await send_typing(ctx, user_id, frame.conversation_id, exclude_connection=connection.id)
        return None
    if isinstance(frame, RecallFrame):
        # The recalling socket also gets the recall message, like every other device.
        ack = await recall_message(ctx, user_id, frame.message_id)
        return _ack_frame(frame.ref, ack)
    raise PigeonError(f"no handler for {frame.type}")


def _ack_frame(ref: str | None, ack: Ack) -> AckFrame:
    return AckFrame(
        ref=ref,
        message_id=ack.message_id,
        conversation_id=ack.conversation_id,
        seq=ack.seq,
        ts=ack.ts,
        client_msg_id=ack.client_msg_id,
    )
