"""Every WebSocket frame, as a small model discriminated by its literal ``type``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from pigeon.common.models import ClientKind, DeviceKind, Message, Model, User

Ref = Annotated[str, Field(min_length=1, max_length=64)]
ClientMsgId = Annotated[str, Field(min_length=1, max_length=64)]
PositiveId = Annotated[int, Field(gt=0, lt=2**63)]
Seq = Annotated[int, Field(ge=0, lt=2**63)]

# --- client -> server -------------------------------------------------------------------


class AuthFrame(Model):
    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=4096)]
    device: DeviceKind = "web"


class PingFrame(Model):
    type: Literal["ping"]


class SendFrame(Model):
    type: Literal["send"]
    ref: Ref | None = None
    client_msg_id: ClientMsgId
    conversation_id: PositiveId | None = None
    to_user_id: PositiveId | None = None
    kind: ClientKind = "text"
    body: dict[str, Any]
    mentions: Annotated[list[PositiveId], Field(max_length=100)] = Field(default_factory=list)
    mention_all: bool = False
    reply_to: PositiveId | None = None

    @model_validator(mode="after")
    def _one_target(self) -> SendFrame:
        if (self.conversation_id is None) == (self.to_user_id is None):
            raise ValueError("give exactly one of conversation_id and to_user_id")
        return self


class SyncFrame(Model):
    type: Literal["sync"]
    ref: Ref | None = None
    conversation_id: PositiveId
    after: Seq = 0
    limit: Annotated[int, Field(ge=1, le=200)] = 100


class ReadFrame(Model):
    type: Literal["read"]
    conversation_id: PositiveId
    seq: Seq


class TypingFrame(Model):
    type: Literal["typing"]
    conversation_id: PositiveId


class RecallFrame(Model):
    type: Literal["recall"]
    ref: Ref | None = None
    message_id: PositiveId


ClientFrame = Annotated[
    AuthFrame | PingFrame | SendFrame | SyncFrame | ReadFrame | TypingFrame | RecallFrame,
    Field(discriminator="type"),
]
CLIENT_FRAME_TYPES = frozenset({"auth", "ping", "send", "sync", "read", "typing", "recall"})

# --- server -> client -------------------------------------------------------------------


class HelloFrame(Model):
    type: Literal["hello"] = "hello"
    user: User
    session_id: str
    device: DeviceKind
    heartbeat_interval: int
    heartbeat_timeout: int
    server_time: int
    rate_limit_per_s: float
    rate_limit_burst: int


class PongFrame(Model):
    type: Literal["pong"] = "pong"
    server_time: int


class AckFrame(Model):
    type: Literal["ack"] = "ack"
    ref: str | None
    message_id: int
    conversation_id: int
    seq: int
    ts: int
    client_msg_id: str | None


class MessageFrame(Model):
    type: Literal["message"] = "message"
    message: Message


class MessagesFrame(Model):
    type: Literal["messages"] = "messages"
    ref: str | None
    conversation_id: int
    messages: list[Message]
    has_more: bool


class MessageChangedFrame(Model):
    """A stored message changed (edited, reacted to): its current state, with ``version``."""

    type: Literal["message_changed"] = "message_changed"
    message: Message


class ReadReceiptFrame(Model):
    type: Literal["read"] = "read"
    conversation_id: int
    user_id: int
    seq: int


class TypingNoticeFrame(Model):
    type: Literal["typing"] = "typing"
    conversation_id: int
    user_id: int


class EventFrame(Model):
    type: Literal["event"] = "event"
    event: str
    data: dict[str, Any]


class PresenceFrame(Model):
    type: Literal["presence"] = "presence"
    user_id: int
    online: bool
    devices: list[DeviceKind]


class NoticeFrame(Model):
    """Hot group: there are messages to pull after the client's offset."""

    type: Literal["notice"] = "notice"
    conversation_id: int
    last_seq: int


class ErrorFrame(Model):
    type: Literal["error"] = "error"
    ref: str | None = None
    code: str
    message: str
    retry_after_ms: int | None = None


class KickedFrame(Model):
    type: Literal["kicked"] = "kicked"
    reason: Literal["logged_in_elsewhere", "session_revoked"]


class ReconnectFrame(Model):
    type: Literal["reconnect"] = "reconnect"
    reason: str


ServerFrame = (
    HelloFrame
    | PongFrame
    | AckFrame
    | MessageFrame
    | MessagesFrame
    | MessageChangedFrame
    | ReadReceiptFrame
    | TypingNoticeFrame
    | EventFrame
    | PresenceFrame
    | NoticeFrame
    | ErrorFrame
    | KickedFrame
    | ReconnectFrame
)
