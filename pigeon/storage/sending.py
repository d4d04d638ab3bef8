"""A send in two statements: one read for every check, one write for everything else.

The read answers every question a send's checks ask: the sender's membership and role,
the conversation's kind, a dissolved group, the private peer, a block, a friendship, and
the id of a message already stored under the same client message id (a retried send).

On PostgreSQL the write is one statement too (data-modifying CTEs): take the next seq
under the guards, insert the message and its hand-off row, move the sender's read
marker. Being one statement it is atomic on its own and runs without BEGIN/COMMIT round
trips.

Statements are built once: building and keying a statement costs more than running it.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    Exists,
    RowMapping,
    and_,
    bindparam,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.conversations import guarded_seq_statement
from pigeon.storage.schema import (
    blocks,
    conversation_members,
    conversations,
    friendships,
    groups,
    message_handoffs,
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


@functools.cache
def _one_statement_send(*, peer: bool, friendship: bool, open_group: bool) -> Any:
    next_seq = guarded_seq_statement(peer=peer, friendship=friendship, open_group=open_group)
    seq = next_seq.cte("next_seq")
    columns = ("conversation_id", "seq", "sender_id", "client_msg_id", "kind", "body")
    inserted = (
        messages.insert()
        .from_select(
            [*columns, "mentions", "mention_all", "created_at"],
            select(
                bindparam("cid", type_=BigInteger),
                seq.c.last_seq,
                bindparam("sender", type_=BigInteger),
                bindparam("cmid", type_=messages.c.client_msg_id.type),
                bindparam("msg_kind", type_=messages.c.kind.type),
                bindparam("msg_body", type_=messages.c.body.type),
                bindparam("msg_mentions", type_=messages.c.mentions.type),
                bindparam("msg_mention_all", type_=Boolean),
                bindparam("now", type_=BigInteger),
            ),
        )
        .returning(messages.c.id, messages.c.seq)
        .cte("inserted")
    )
    member = conversation_members.c
    marker = (
        update(conversation_members)
        .where(
            member.conversation_id == bindparam("cid"),
            member.user_id == bindparam("sender"),
            member.read_seq < inserted.c.seq,
        )
        .values(read_seq=inserted.c.seq)
        .cte("marker")
    )
    handoff = (
        message_handoffs.insert()
        .from_select(
            ["message_id", "handed_at", "created_at"],
            select(
                inserted.c.id,
                bindparam("now", type_=BigInteger),
                bindparam("now", type_=BigInteger),
            ),
        )
        .cte("handoff")
    )
    return select(inserted.c.id, inserted.c.seq).add_cte(marker).add_cte(handoff)


async def store_in_one_statement(
    conn: AsyncConnection,
    *,
    conversation_id: int,
    sender_id: int,
    peer_id: int | None,
    require_friendship: bool,
    open_group: bool,
    client_msg_id: str,
    kind: str,
    body: str,
    now: int,
) -> tuple[int, int] | None:
    """PostgreSQL: (message id, seq), or None if a guard refused (the rules changed)."""
    statement = _one_statement_send(
        peer=peer_id is not None, friendship=require_friendship, open_group=open_group
    )
    params: dict[str, Any] = {
        "cid": conversation_id,
        "sender": sender_id,
        "now": now,
        "cmid": client_msg_id,
        # Not named after columns: in an UPDATE such a name would become a SET clause.
        "msg_kind": kind,
        "msg_body": body,
        "msg_mentions": "[]",
        "msg_mention_all": False,
    }
    if peer_id is not None:
        params["peer"] = peer_id
    row = (await conn.execute(statement, params)).first()
    return None if row is None else (int(row[0]), int(row[1]))
