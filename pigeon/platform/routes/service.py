"""Server push API: trusted backends, holding a service key, push messages and events.

Every route needs one of ``auth.service_keys``, sent as ``Authorization: Bearer <key>`` or
``X-Pigeon-Service-Key: <key>``. No configured keys means the API refuses everyone.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from pigeon.actions import deliveries, service
from pigeon.common.errors import Unauthorized
from pigeon.common.models import Ack, ClientKind
from pigeon.platform.deps import Ctx
from pigeon.platform.proxies import client_address

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/service", tags=["service"])

UserIdField = Annotated[int, Field(gt=0, lt=2**63)]
Status = Literal["online", "offline"]


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-pigeon-service-key", "").strip()
    if key:
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def require_service_key(request: Request, ctx: Ctx) -> int:
    """The index of the configured service key the caller presented; 401 otherwise.

    Keys are compared as SHA-256 digests with :func:`hmac.compare_digest`, against every
    configured key, so the time taken says nothing about how much of a key matched.
    """
    keys = [key for key in ctx.settings.auth.service_keys if key]
    presented = _presented_key(request)
    client = client_address(request) or None
    if not keys:
        log.warning("service_auth_refused", reason="no_keys_configured", client=client)
        raise Unauthorized("the server push API is off: no service keys are configured")
    if presented is None:
        log.warning("service_auth_refused", reason="missing_key", client=client)
        raise Unauthorized(
            "send a service key: Authorization: Bearer <key> or X-Pigeon-Service-Key: <key>"
        )
    wanted = _digest(presented)
    matched = -1
    for index, key in enumerate(keys):
        if hmac.compare_digest(wanted, _digest(key)) and matched < 0:
            matched = index
    if matched < 0:
        log.warning("service_auth_refused", reason="wrong_key", client=client)
        raise Unauthorized("the service key is not valid")
    return matched


ServiceKey = Annotated[int, Depends(require_service_key)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrivatePushBody(_Body):
    from_user_id: UserIdField
    to_user_id: UserIdField
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: ClientKind = "text"
    body: dict[str, Any]


class GroupPushBody(_Body):
    group_id: UserIdField
    from_user_id: UserIdField | None
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: ClientKind | Literal["system"] | None = None
    body: dict[str, Any]
    mentions: Annotated[list[UserIdField], Field(max_length=100)] = Field(default_factory=list)


class NotifyBody(_Body):
    user_ids: Annotated[list[UserIdField], Field(min_length=1, max_length=1000)]
    event: Annotated[str, Field(min_length=3, max_length=100)]
    data: dict[str, Any] = Field(default_factory=dict)


class PushOut(BaseModel):
    """``ack`` (null for events), ``duplicate`` (a retried client_msg_id: nothing was
    stored or pushed again; ``recipients`` is what the first attempt recorded) and, per
    recipient user id, ``online`` or ``offline``."""

    ack: Ack | None
    duplicate: bool
    recipients: dict[str, Status]


class DeliveryOut(BaseModel):
    cursor: int
    message_id: int
    conversation_id: int
    seq: int
    user_id: int
    status: Literal["online", "offline", "synced"]
    pushed_at: int
    ts: int


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]
    next: int
    has_more: bool


def _out(result: service.PushResult) -> PushOut:
    recipients: dict[str, Status] = {
        str(uid): "online" if value == "online" else "offline"
        for uid, value in result.recipients.items()
    }
    return PushOut(ack=result.ack, duplicate=result.duplicate, recipients=recipients)


@router.post("/messages/private", status_code=status.HTTP_201_CREATED)
async def push_private(body: PrivatePushBody, ctx: Ctx, key: ServiceKey) -> PushOut:
    """Send a private message from ``from_user_id`` to ``to_user_id``.

    Stored and acked like a user's send (idempotent by ``client_msg_id`` per sender), but
    no friendship is needed; a block still refuses it (403 ``blocked``).
    """
    log.info("service_request", route="messages/private", key=key)
    result = await service.push_private(
        ctx,
        from_user_id=body.from_user_id,
        to_user_id=body.to_user_id,
        client_msg_id=body.client_msg_id,
        kind=body.kind,
        body=body.body,
    )
    return _out(result)


@router.post("/messages/group", status_code=status.HTTP_201_CREATED)
async def push_group(body: GroupPushBody, ctx: Ctx, key: ServiceKey) -> PushOut:
    """Send to a group as a member (``from_user_id``), or as Pigeon itself
    (``from_user_id: null``: a ``system`` message whose body is ``{tip, event?, ...}``)."""
    log.info("service_request", route="messages/group", key=key)
    kind = body.kind or ("system" if body.from_user_id is None else "text")
    result = await service.push_group(
        ctx,
        group_id=body.group_id,
        from_user_id=body.from_user_id,
        client_msg_id=body.client_msg_id,
        kind=kind,
        body=body.body,
        mentions=body.mentions,
    )
    return _out(result)


@router.post("/notify")
async def notify(body: NotifyBody, ctx: Ctx, key: ServiceKey) -> PushOut:
    """Push an ``event`` frame (``{"type":"event","event":..., "data":...}``) to users'
    connected devices. Ephemeral: not stored, so ``offline`` users never get it."""
    log.info("service_request", route="notify", key=key)
    result = await service.notify_users(
        ctx, user_ids=body.user_ids, event=body.event, data=body.data
    )
    return _out(result)


@router.get("/deliveries")
async def list_deliveries(
    ctx: Ctx,
    key: ServiceKey,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveriesOut:
    """The delivery-result stream after a cursor, oldest first: per recipient of every
    pushed message, ``online``/``offline`` at push time and ``synced`` when an offline
    recipient later fetched it. Ask again with ``after=next``."""
    page = await deliveries.list_deliveries(ctx, after, limit)
    return DeliveriesOut(
        deliveries=[
            DeliveryOut(
                cursor=e.cursor,
                message_id=e.message_id,
                conversation_id=e.conversation_id,
                seq=e.seq,
                user_id=e.user_id,
                status="synced"
                if e.status == "synced"
                else ("online" if e.status == "online" else "offline"),
                pushed_at=e.pushed_at,
                ts=e.ts,
            )
            for e in page.deliveries
        ],
        next=page.next,
        has_more=page.has_more,
    )
