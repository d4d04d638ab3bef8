"""The objects Pigeon shows to clients, shared by the HTTP API, the WebSocket and the SDK.

They are plain pydantic models so that one definition validates input, documents the
OpenAPI schema and encodes WebSocket frames.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceKind = Literal["web", "desktop", "mobile"]
# What clients send; Pigeon itself writes ``system`` tips and ``recall`` messages.
ClientKind = Literal["text", "image", "file", "voice", "location", "contact"]
MessageKind = Literal["text", "image", "file", "voice", "location", "contact", "system", "recall"]
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


class Reaction(Model):
    """One emoji on a message: how many reacted with it, and the first of them."""

    emoji: str
    count: int
    user_ids: list[int]


class Quote(Model):
    """The message a reply answers, as it stands now: a recalled original shows as
    recalled, an edited one with its latest text."""

    message_id: int
    seq: int
    sender_id: int | None
    kind: MessageKind
    snippet: str  # the start of a text; a file's name, a place's label, a contact's name
    recalled: bool = False


class ForwardedFrom(Model):
    """Where a forwarded message was first sent: by whom, and when."""

    sender_id: int | None
    ts: int


class Message(Model):
    """One stored message. ``seq`` orders it within its conversation.

    ``version`` is the conversation's change number when the message last changed (an edit
    or a reaction; 0: never): of two copies of a message, the higher version is current.
    """

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
    reply_to: Quote | None = None
    forwarded_from: ForwardedFrom | None = None
    edited_at: int | None = None
    reactions: list[Reaction] = Field(default_factory=list)
    version: int = 0


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


class ConversationSettings(Model):
    """A member's own choices for a conversation, the same on all their devices."""

    muted_until: int = 0  # ms; 0: not muted, MUTED_FOREVER: until unmuted
    count_when_muted: bool = True  # a muted conversation's unread still counts in badges
    pinned: bool = False  # shown at the top of the list
    archived: bool = False  # kept out of the main list


MUTED_FOREVER = 2**62


class Conversation(Model):
    id: int
    kind: ConversationKind
    peer: User | None = None
    group: Group | None = None
    last_seq: int
    last_change: int = 0  # the highest message ``version`` in the conversation
    read_seq: int
    peer_read_seq: int = 0
    visible_from_seq: int = 0
    unread: int
    mentioned: bool = False
    last_message: Message | None = None
    settings: ConversationSettings = Field(default_factory=lambda: ConversationSettings())


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
