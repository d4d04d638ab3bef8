"""Server push API: trusted backends push private, group and system messages and events.

A service send is an ordinary send (:func:`pigeon.actions.sending.send_message`: stored
once, acked after the commit, idempotent by ``client_msg_id``, pushed after the commit),
with two differences:

* a private message from a user to a user needs no friendship (a block still refuses it);
* the result says for each recipient whether they had a socket on some gateway when the
  message was published (``online``: it is pushed there, as a message or, in a hot
  group, a notice) or not (``offline``: it waits in the database for the recipient's
  next sync). The outcome also goes to the delivery-result stream
  (:mod:`pigeon.actions.deliveries`), which later reports when an offline recipient
  synced the message.

Notifications (:func:`notify_users`) are ephemeral ``event`` frames: nothing is stored, so
an offline user never gets one; durable notices are messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from pigeon.actions import deliveries
from pigeon.actions.context import Context
from pigeon.actions.sending import Draft, store_message
from pigeon.actions.tips import store_system_message
from pigeon.bus.publication import message_stored, to_users
from pigeon.common.clock import now_ms
from pigeon.common.errors import GroupDissolved, InvalidRequest, NotFound
from pigeon.common.models import Ack, Message
from pigeon.common.outage import Outage
from pigeon.common.protocol.frames import EventFrame
from pigeon.storage import groups as group_store
from pigeon.storage import messages as message_store
from pigeon.storage import service as store

log = structlog.get_logger(__name__)

# Redis or the database down: logged once per outage, not once per push.
_locate_outage = Outage("service_locate")
_record_outage = Outage("service_delivery_record")

MAX_NOTIFY_USERS = 1000
PAGE = 1000
MAX_DATA_BYTES = 8 * 1024
# Backend event names are namespaced ("shop.order_shipped"); Pigeon's own have no dot.
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}(\.[a-z0-9_]{1,30}){1,3}$")
SYSTEM_EVENT = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


@dataclass(frozen=True)
class PushResult:
    """What a service push did: the ack (messages only), whether it was a retry, and for
    each recipient ``"online"`` or ``"offline"``."""

    ack: Ack | None
    duplicate: bool
    recipients: dict[int, str]


async def _require_users(ctx: Context, user_ids: list[int]) -> None:
    async with ctx.db.read() as conn:
        found = await store.existing_user_ids(conn, user_ids)
    missing = sorted(set(user_ids) - found)
    if missing:
        raise NotFound(f"no such user: {', '.join(str(uid) for uid in missing[:20])}")


async def _finish(
    ctx: Context, ack: Ack, stored: bool, audience: list[int], *, pushed_at: int
) -> PushResult:
    """Who of the audience had a socket when the message was published; recorded in the
    delivery stream for a new message, read back from it for a retry."""
    if not stored:
        # This client_msg_id was sent before (or lost a race to a concurrent retry):
        # report what the first attempt recorded.
        async with ctx.db.read() as conn:
            outcomes = await store.push_outcomes(conn, ack.message_id)
        return PushResult(ack, True, outcomes)
    online: set[int] = set()
    try:
        for start in range(0, len(audience), PAGE):
            located = await ctx.router.locate(audience[start : start + PAGE])
            online.update(uid for users in located.values() for uid in users)
        _locate_outage.succeeded()
    except Exception as exc:
        # The bus is down: the message is stored and will be pushed; nobody is reachable.
        _locate_outage.failed(exc, message=ack.message_id)
    outcomes_now = {uid: uid in online for uid in audience}
    try:
        await deliveries.record_push(
            ctx,
            message_id=ack.message_id,
            conversation_id=ack.conversation_id,
            seq=ack.seq,
            pushed_at=pushed_at,
            outcomes=outcomes_now,
        )
        _record_outage.succeeded()
    except Exception as exc:
        # The message is stored and pushed; only the report is incomplete.
        _record_outage.failed(exc, message=ack.message_id)
    return PushResult(
        ack,
        False,
        {uid: "online" if online else "offline" for uid, online in outcomes_now.items()},
    )


async def _group_audience(ctx: Context, group_id: int, sender_id: int | None) -> list[int]:
    """Every member but the sender (the push API reports on each of them)."""
    audience: list[int] = []
    after = 0
    while True:
        async with ctx.db.read() as conn:
            page = await group_store.member_id_page(conn, group_id, after, PAGE)
        audience += [uid for uid in page if uid != sender_id]
        if len(page) < PAGE:
            return audience
        after = page[-1]


async def push_private(
    ctx: Context,
    *,
    from_user_id: int,
    to_user_id: int,
    client_msg_id: str,
    kind: str,
    body: dict[str, Any],
) -> PushResult:
    """A private message from one user to another, on the sender's behalf."""
    await _require_users(ctx, [from_user_id, to_user_id])
    pushed_at = now_ms()
    draft = Draft(client_msg_id=client_msg_id, kind=kind, body=body, to_user_id=to_user_id)
    ack, stored = await store_message(ctx, from_user_id, draft, friends_only=False)
    result = await _finish(ctx, ack, stored, [to_user_id], pushed_at=pushed_at)
    log.info(
        "service_push_private",
        sender=from_user_id,
        to=to_user_id,
        message=ack.message_id,
        duplicate=result.duplicate,
        online=_count_online(result),
    )
    return result


async def push_group(
    ctx: Context,
    *,
    group_id: int,
    from_user_id: int | None,
    client_msg_id: str,
    kind: str,
    body: dict[str, Any],
    mentions: list[int] | None = None,
) -> PushResult:
    """A group message as a member, or (``from_user_id`` None) a system tip from Pigeon."""
    async with ctx.db.read() as conn:
        group = await group_store.find_group(conn, group_id)
    if group is None:
        raise NotFound("no such group")
    if group["dissolved_at"] is not None:
        raise GroupDissolved()
    pushed_at = now_ms()
    if from_user_id is None:
        ack, stored = await _send_system(ctx, group_id, client_msg_id, kind, body)
    else:
        await _require_users(ctx, [from_user_id])
        draft = Draft(
            client_msg_id=client_msg_id,
            kind=kind,
            body=body,
            conversation_id=group_id,
            mentions=list(mentions or []),
        )
        ack, stored = await store_message(ctx, from_user_id, draft, friends_only=False)
    audience = await _group_audience(ctx, group_id, from_user_id) if stored else []
    result = await _finish(ctx, ack, stored, audience, pushed_at=pushed_at)
    log.info(
        "service_push_group",
        group=group_id,
        sender=from_user_id,
        message=ack.message_id,
        duplicate=result.duplicate,
        recipients=len(result.recipients),
        online=_count_online(result),
    )
    return result


async def _send_system(
    ctx: Context, group_id: int, client_msg_id: str, kind: str, body: dict[str, Any]
) -> tuple[Ack, bool]:
    """Store a system tip (no sender) idempotently by client_msg_id and publish it; the
    ack, and whether this call stored it."""
    if not client_msg_id or len(client_msg_id) > 64:
        raise InvalidRequest("client_msg_id must be 1-64 characters")
    if kind != "system":
        raise InvalidRequest("a message without from_user_id is of kind 'system'")
    stored_body = _system_body(body, ctx.settings.messaging.max_text_chars)
    existing = await _find_system(ctx, client_msg_id)
    if existing is not None:
        return _ack(existing), False
    now = now_ms()
    try:
        async with ctx.transaction() as (conn, outbox):
            group = await group_store.lock_group(conn, group_id)
            if group is None:
                raise NotFound("no such group")
            if group["dissolved_at"] is not None:
                raise GroupDissolved()
            message = await store_system_message(
                conn, group_id, stored_body, now=now, client_msg_id=client_msg_id
            )
            await store.insert_system_send(conn, client_msg_id, message.id, now)
            outbox.add(message_stored(message))
    except IntegrityError:
        existing = await _find_system(ctx, client_msg_id)
        if existing is None:
            raise
        return _ack(existing), False
    return _ack(message), True


async def _find_system(ctx: Context, client_msg_id: str) -> Message | None:
    async with ctx.db.read() as conn:
        message_id = await store.find_system_send(conn, client_msg_id)
        if message_id is None:
            return None
        row = await message_store.find_message(conn, message_id)
    return message_store.message_from_row(row) if row is not None else None


def _system_body(body: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """``{tip, event?, ...data}``: a tip in words, an event name, and any extra fields."""
    tip = body.get("tip")
    if not isinstance(tip, str) or not tip.strip():
        raise InvalidRequest("a system message body needs a non-empty 'tip' string")
    if len(tip) > max_chars:
        raise InvalidRequest(f"the tip is limited to {max_chars} characters")
    event = body.get("event", "service")
    if not isinstance(event, str) or not SYSTEM_EVENT.match(event):
        raise InvalidRequest("event must be 1-64 characters of a-z, 0-9, '_' or '.'")
    _check_size(body, "body")
    return {**body, "tip": tip, "event": event}


def _check_size(value: dict[str, Any], name: str) -> None:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_DATA_BYTES:
        raise InvalidRequest(f"{name} is limited to {MAX_DATA_BYTES} bytes of JSON")


async def notify_users(
    ctx: Context, *, user_ids: list[int], event: str, data: dict[str, Any]
) -> PushResult:
    """Push an ``event`` frame to users' connected devices. Not stored: offline users
    never see it, and the result says who they were."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted or len(wanted) > MAX_NOTIFY_USERS:
        raise InvalidRequest(f"give 1-{MAX_NOTIFY_USERS} user ids")
    if not EVENT_NAME.match(event):
        raise InvalidRequest(
            "event must be namespaced like 'shop.order_shipped' "
            "(lowercase letters, digits and '_', parts joined by '.')"
        )
    _check_size(data, "data")
    await _require_users(ctx, wanted)
    reached = await ctx.publisher.publish_now(to_users(EventFrame(event=event, data=data), wanted))
    result = PushResult(
        None, False, {uid: "online" if uid in reached else "offline" for uid in wanted}
    )
    log.info("service_notify", notify_event=event, users=len(wanted), online=_count_online(result))
    return result


def _count_online(result: PushResult) -> int:
    return sum(1 for status in result.recipients.values() if status == "online")


def _ack(message: Message) -> Ack:
    return Ack(
        message_id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        ts=message.ts,
        client_msg_id=message.client_msg_id,
    )
