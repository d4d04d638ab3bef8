"""What an action publishes after its commit: the one currency of delivery.

Every push Pigeon makes starts as one of these, handed to
:class:`pigeon.actions.publisher.Publisher` (the only way to publish). Frames are
encoded once, when the publication is made, so a publication can cross Redis to a fan-out
worker and reach any number of sockets unchanged.

    MessageStored  a committed message. ``recipients`` given (private chats): routed at
                   once by the process that stored it. ``recipients`` None (groups): the
                   fan-out workers page the members, and hot groups get notices instead.
    ToUsers        a frame for named users' devices (receipts, friend events, presence).
    ToDevices      a frame for some devices of some users (a hot-group notice owed).
    ToGroup        a frame for every current member of a group (group changes, typing).
    CloseSockets   last words for some of a user's sockets, then a close code (a device
                   logged out, a revoked session).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec

from pigeon.common.models import Message
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import MessageFrame, ServerFrame


class MessageStored(msgspec.Struct, frozen=True, tag="message"):
    message_id: int
    conversation_id: int
    seq: int
    sender_id: int | None
    frame: str
    recipients: list[int] | None = None
    exclude_connection: str | None = None
    sender_device: str | None = None  # the device that sent it holds it (the ack)

    @property
    def frame_type(self) -> str:
        return "message"


class ToUsers(msgspec.Struct, frozen=True, tag="users"):
    frame: str
    frame_type: str
    user_ids: list[int]
    exclude_connection: str | None = None


class ToDevices(msgspec.Struct, frozen=True, tag="devices"):
    frame: str
    frame_type: str
    targets: list[tuple[int, str]]


class ToGroup(msgspec.Struct, frozen=True, tag="group"):
    conversation_id: int
    frame: str
    frame_type: str
    skip_user_ids: list[int] = []
    exclude_connection: str | None = None


class CloseSockets(msgspec.Struct, frozen=True, tag="close"):
    user_id: int
    frame: str
    frame_type: str
    code: int
    connection_id: str | None = None
    gateway_id: str | None = None
    session_ids: list[str] = []


Publication = MessageStored | ToUsers | ToDevices | ToGroup | CloseSockets

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Publication)


def encode_publication(publication: Publication) -> bytes:
    return _encoder.encode(publication)


def decode_publication(data: bytes | str) -> Publication:
    return _decoder.decode(data)


def message_stored(
    message: Message,
    recipients: Iterable[int] | None = None,
    *,
    exclude_connection: str | None = None,
    sender_device: str | None = None,
) -> MessageStored:
    """The publication of a committed message (``recipients`` None: a group's members)."""
    return MessageStored(
        message_id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        frame=encode_server_frame(MessageFrame(message=message)),
        recipients=None if recipients is None else list(dict.fromkeys(recipients)),
        exclude_connection=exclude_connection,
        sender_device=sender_device,
    )


def to_users(
    frame: ServerFrame, user_ids: Iterable[int], *, exclude_connection: str | None = None
) -> ToUsers:
    return ToUsers(
        frame=encode_server_frame(frame),
        frame_type=frame.type,
        user_ids=list(dict.fromkeys(user_ids)),
        exclude_connection=exclude_connection,
    )


def to_devices(frame: ServerFrame, targets: list[tuple[int, str]]) -> ToDevices:
    return ToDevices(frame=encode_server_frame(frame), frame_type=frame.type, targets=targets)


def to_group(
    frame: ServerFrame,
    conversation_id: int,
    *,
    skip_user_ids: Iterable[int] = (),
    exclude_connection: str | None = None,
) -> ToGroup:
    return ToGroup(
        conversation_id=conversation_id,
        frame=encode_server_frame(frame),
        frame_type=frame.type,
        skip_user_ids=list(skip_user_ids),
        exclude_connection=exclude_connection,
    )


def close_sockets(
    frame: ServerFrame,
    user_id: int,
    code: int,
    *,
    connection_id: str | None = None,
    gateway_id: str | None = None,
    session_ids: Iterable[str] = (),
) -> CloseSockets:
    return CloseSockets(
        user_id=user_id,
        frame=encode_server_frame(frame),
        frame_type=frame.type,
        code=code,
        connection_id=connection_id,
        gateway_id=gateway_id,
        session_ids=list(session_ids),
    )


def frame_of(publication: Publication) -> dict[str, Any]:
    """The frame a publication carries, decoded (for tests and logs)."""
    decoded: dict[str, Any] = json.loads(publication.frame)
    return decoded
