"""The read a send needs, in one statement: may this sender write here, and did they already?

Each row answers every question a send's checks ask: the sender's membership and role,
the conversation's kind, a dissolved group, the private peer, a block, a friendship, and
the id of a message already stored under the same client message id (a retried send).
Built once at import: building and keying a statement costs more than running it.
"""

from __future__ import annotations

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Exists,
    RowMapping,
    and_,
    bindparam,
    exists,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import (
    blocks,
    conversation_members,
    conversations,
    friendships,
    groups,
    messages,
    users,
)

_sender: BindParameter[int] = bindparam("sender")
_cmid: BindParameter[str] = bindparam("cmid")
_existing_message = (
    select(messages.c.id)
    .where(messages.c.sender_id == _sender, messages.c.client_msg_id == _cmid)
    .scalar_subquery()
)


def _blocked_by(peer: ColumnElement[int]) -> Exists:
    return exists().where(blocks.c.user_id == peer, blocks.c.blocked_id == _sender)


def _friends_with(peer: ColumnElement[int]) -> Exists:
    return exists().where(friendships.c.user_id == _sender, friendships.c.friend_id == peer)


_me = conversation_members.alias("me")
_peer = conversation_members.alias("peer")
_IN_CONVERSATION = (
    select(
        _me.c.role,
        conversations.c.kind,
        groups.c.dissolved_at,
        _peer.c.user_id.label("peer_id"),
        _blocked_by(_peer.c.user_id).label("blocked"),
        _friends_with(_peer.c.user_id).label("friends"),
        _existing_message.label("existing_id"),
    )
    .select_from(
        _me.join(conversations, conversations.c.id == _me.c.conversation_id)
        .outerjoin(groups, groups.c.conversation_id == conversations.c.id)
        .outerjoin(
            _peer,
            and_(
                _peer.c.conversation_id == conversations.c.id,
                _peer.c.user_id != _sender,
                conversations.c.kind == "private",
            ),
        )
    )
    .where(_me.c.conversation_id == bindparam("cid"), _me.c.user_id == _sender)
)

_target: BindParameter[int] = bindparam("target")
_TO_USER = select(
    exists().where(users.c.id == _target).label("target_exists"),
    _blocked_by(_target).label("blocked"),
    _friends_with(_target).label("friends"),
    select(conversations.c.id)
    .where(conversations.c.private_key == bindparam("key"))
    .scalar_subquery()
    .label("conversation_id"),
    _existing_message.label("existing_id"),
    literal(1).label("one"),
)


async def checks_in_conversation(
    conn: AsyncConnection, conversation_id: int, sender_id: int, client_msg_id: str
) -> RowMapping | None:
    """The send checks for a known conversation; None if the sender is not a member."""
    params = {"cid": conversation_id, "sender": sender_id, "cmid": client_msg_id}
    return (await conn.execute(_IN_CONVERSATION, params)).mappings().first()


async def checks_to_user(
    conn: AsyncConnection, sender_id: int, target_id: int, private_key: str, client_msg_id: str
) -> RowMapping:
    """The send checks for a private message addressed by user id."""
    params = {"sender": sender_id, "target": target_id, "key": private_key, "cmid": client_msg_id}
    row: RowMapping = (await conn.execute(_TO_USER, params)).mappings().one()
    return row
