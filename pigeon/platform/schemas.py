"""Request bodies and response envelopes of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pigeon.common.models import Ack, ClientKind, Conversation, DeviceKind, Message, User
from pigeon.platform.errors import ErrorDetail

# Ids are 64-bit signed integers in the database; anything larger is refused by the schema
# (422) instead of overflowing in the driver.
MAX_ID = 2**63
Id = Annotated[int, Field(gt=0, lt=MAX_ID)]
Seq = Annotated[int, Field(ge=0, lt=2**62)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    nickname: Annotated[str, Field(max_length=64)] = ""
    device: DeviceKind = "web"


class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    device: DeviceKind = "web"


class RefreshBody(Body):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class PasswordBody(Body):
    old_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=1, max_length=256)]


class ProfileBody(Body):
    nickname: Annotated[str, Field(max_length=64)] | None = None
    avatar_url: Annotated[str, Field(max_length=512)] | None = None
    signature: Annotated[str, Field(max_length=256)] | None = None


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name
    expires_in: int
    user: User


class UsersOut(BaseModel):
    users: list[User]


class OpenPrivateBody(Body):
    user_id: Id


class ConversationsOut(BaseModel):
    conversations: list[Conversation]


class MessagesOut(BaseModel):
    conversation_id: int
    messages: list[Message]
    has_more: bool


class SendBody(Body):
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: ClientKind = "text"
    body: dict[str, Any]
    mentions: Annotated[list[Id], Field(max_length=100)] = Field(default_factory=list)
    mention_all: bool = False
    reply_to: Id | None = None  # the id of the message this one answers


class SendPrivateBody(SendBody):
    to_user_id: Id


class ReadBody(Body):
    seq: Seq


class EditBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=20_000)]


class ChangesOut(BaseModel):
    """Messages changed after ``after``, oldest change first; ask again from
    ``last_change`` while ``has_more``."""

    conversation_id: int
    messages: list[Message]
    last_change: int
    has_more: bool


class ReactorOut(BaseModel):
    emoji: str
    user_id: int
    ts: int


class ReactorsOut(BaseModel):
    reactions: list[ReactorOut]


class EarlierBodyOut(BaseModel):
    body: dict[str, Any]
    replaced_at: int


class EditsOut(BaseModel):
    edits: list[EarlierBodyOut]


class SettingsBody(Body):
    """Only the fields given change. ``muted_until``: ms since the epoch (0 unmutes;
    4611686018427387904, 2**62, mutes until unmuted)."""

    muted_until: Annotated[int, Field(ge=0, le=2**62)] | None = None
    count_when_muted: bool | None = None
    pinned: bool | None = None
    archived: bool | None = None


class PinOut(BaseModel):
    message: Message
    pinned_by: int | None
    pinned_at: int


class PinsOut(BaseModel):
    pins: list[PinOut]


class ForwardBody(Body):
    client_msg_id: Annotated[str, Field(min_length=1, max_length=24)]
    message_ids: Annotated[list[Id], Field(min_length=1, max_length=20)]
    conversation_ids: Annotated[list[Id], Field(min_length=1, max_length=10)]


class ForwardedOut(BaseModel):
    conversation_id: int
    acks: list[Ack]
    error: ErrorDetail | None = None


class ForwardsOut(BaseModel):
    results: list[ForwardedOut]
