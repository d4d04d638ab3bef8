"""The objects Pigeon shows to clients, shared by the HTTP API, the WebSocket and the SDK.

They are plain pydantic models so that one definition validates input, documents the
OpenAPI schema and encodes WebSocket frames.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceKind = Literal["web", "desktop", "mobile"]
MessageKind = Literal["text", "image", "file", "voice", "system", "recall"]
ConversationKind = Literal["private", "group"]
GroupRole = Literal["owner", "admin", "member"]


class Model(BaseModel):
    """Base for wire objects: unknown fields are refused, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class User(Model):
    id: int
    username: str
    nickname: str
    avatar_url: str
    signature: str
    created_at: int


class Message(Model):
    """One stored message. ``seq`` orders it within its conversation."""

    id: int
    conversation_id: int
    seq: int
    sender_id: int | None
    client_msg_id: str | None
    kind: MessageKind
    body: dict[str, Any]
    ts: int
    recalled: bool = False
    mentions: list[int] = Field(default_factory=list)
    mention_all: bool = False


class Ack(Model):
    """Proof that a message is durably stored, with the place it was given."""

    message_id: int
    conversation_id: int
    seq: int
    ts: int
    client_msg_id: str | None

    @classmethod
    def of(cls, message: Message) -> Ack:
        return cls(
            message_id=message.id,
            conversation_id=message.conversation_id,
            seq=message.seq,
            ts=message.ts,
            client_msg_id=message.client_msg_id,
        )


class Group(Model):
    id: int
    name: str
    avatar_url: str
    notice: str
    owner_id: int
    member_count: int
    dissolved: bool
    hot: bool = False  # delivered by push + pull: members get notices and pull
    marked_hot: bool = False  # made hot by an owner or admin, whatever the size
    my_role: GroupRole | None = None


class Conversation(Model):
    id: int
    kind: ConversationKind
    peer: User | None = None
    group: Group | None = None
    last_seq: int
    read_seq: int
    peer_read_seq: int = 0
    visible_from_seq: int = 0
    unread: int
    mentioned: bool = False
    last_message: Message | None = None


FriendRequestStatus = Literal["pending", "accepted", "declined", "cancelled"]


class FriendRequest(Model):
    """A request to become friends, from one user to another, with a short note."""

    id: int
    from_user: User
    to_user: User
    note: str
    status: FriendRequestStatus
    ts: int


class Friend(Model):
    """One entry of the caller's friend list; ``remark`` is the caller's private name for them."""

    user: User
    remark: str
    online: bool = False
    devices: list[DeviceKind] = Field(default_factory=list)
    since: int


class Device(Model):
    """One of the user's logged-in devices (a browser, an app install): a login session.

    ``online``: a socket of it is connected now; ``current``: the caller's own device."""

    id: str
    name: str
    kind: DeviceKind
    created_at: int
    last_active_at: int
    online: bool
    current: bool


class BlockedUser(Model):
    user: User
    ts: int


class GroupMember(Model):
    user: User
    role: GroupRole
    alias: str
    joined_at: int


class Upload(Model):
    """A stored upload. ``url`` is unguessable: whoever has it may fetch the file."""

    id: str
    kind: Literal["image", "file", "voice"]
    name: str
    mime: str
    size: int
    url: str
    thumb_url: str | None = None
    width: int | None = None
    height: int | None = None
