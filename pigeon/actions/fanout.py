"""Group fan-out: after a commit, push a frame to every member of a group.

The send path never loads a group's member list: the message is stored once, acked, and
then this module pages through the members by user id (keyset, ``PAGE`` at a time) and
hands each page to the router, which locates the online ones and queues one delivery per
gateway. Memory stays bounded whatever the group size.

Hot groups (``groups.hot``, or at least ``messaging.hot_group_threshold`` members) get a
small ``notice`` frame ("there is something to pull after seq N") instead of the full
message: clients pull by seq, so one stored copy serves everyone (push + pull). A member
who holds a notice they have not pulled after gets no other: the registry keeps who was
notified, and a pull that reaches the end of the conversation clears it.

A failed push loses nothing: the message is in the database and clients sync by seq.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from pigeon.actions.context import Context
from pigeon.common.models import Message
from pigeon.common.protocol.frames import MessageFrame, NoticeFrame, ServerFrame
from pigeon.storage import groups as store

log = structlog.get_logger(__name__)

PAGE = 1000


def is_hot(ctx: Context, member_count: int, flagged: bool) -> bool:
    return flagged or member_count >= ctx.settings.messaging.hot_group_threshold


async def push_to_group(
    ctx: Context,
    conversation_id: int,
    frame: ServerFrame,
    *,
    exclude_connection: str | None = None,
    skip_user_ids: Iterable[int] = (),
) -> None:
    """Push ``frame`` to the group's current members, one page of user ids at a time."""
    skip = set(skip_user_ids)
    after = 0
    try:
        while True:
            async with ctx.db.read() as conn:
                page = await store.member_id_page(conn, conversation_id, after, PAGE)
            recipients = [uid for uid in page if uid not in skip]
            if recipients and isinstance(frame, NoticeFrame):
                # One notice until the member pulls: a busy hot group costs each member one
                # small frame per pull, not one per message.
                recipients = await ctx.registry.claim_notices(conversation_id, recipients)
            if recipients:
                await ctx.router.push(frame, recipients, exclude_connection=exclude_connection)
            if len(page) < PAGE:
                return
            after = page[-1]
    except Exception:
        log.exception("group_push_failed", conversation=conversation_id, frame=frame.type)


async def fan_out_message(
    ctx: Context, message: Message, *, exclude_connection: str | None = None
) -> None:
    """Deliver a committed group message: in full, or as a notice in a hot group."""
    try:
        async with ctx.db.read() as conn:
            group = await store.find_group(conn, message.conversation_id)
    except Exception:
        log.exception("group_push_failed", conversation=message.conversation_id)
        return
    frame: ServerFrame = MessageFrame(message=message)
    if group is not None and is_hot(ctx, group["member_count"], bool(group["hot"])):
        frame = NoticeFrame(conversation_id=message.conversation_id, last_seq=message.seq)
    await push_to_group(ctx, message.conversation_id, frame, exclude_connection=exclude_connection)


async def clear_notice(ctx: Context, conversation_id: int, user_id: int) -> None:
    """The member caught up with the conversation (pulled to its end, or fetched it): the
    next message of a hot group notifies them again."""
    try:
        await ctx.registry.clear_notice(conversation_id, user_id)
    except Exception as exc:  # the registry is down: the caller's read still succeeds
        log.warning("clear_notice_failed", conversation=conversation_id, error=str(exc))
