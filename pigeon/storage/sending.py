"""A send in two statements: one read for every check, one write for everything else.

The read answers every question a send's checks ask: the sender's membership and role,
the conversation's kind, a dissolved group, a group muted for all but its managers, the
sender muted in the group, the private peer, a block, a friendship, and
the id of a message already stored under the same client message id (a retried send).

On PostgreSQL the write is one statement too (data-modifying CTEs): take the next seq
under the guards, insert the message and its hand-off row, move the sender's read
marker. Being one statement it is atomic on its own and runs without BEGIN/COMMIT round
trips.

Statements are built once: building and keying a statement costs more than running it.

On SQLite a batch (the group commit) runs its statements straight on the writer's own
``sqlite3`` connection, compiled once from the same statements: SQLAlchemy's work per
execution costs more than SQLite's.

A batch of sends on PostgreSQL (the group commit) runs each statement for every send of
the batch in one round trip (asyncpg's pipelined ``fetchmany``, compiled once from the
same statements), the writes in one implicit transaction: one commit for the batch.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
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
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as pysqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.conversations import ADVANCE_READ, guarded_seq_statement
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
        groups.c.muted_all,
        _me.c.send_muted_until,
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
    conn: AsyncConnection, params: Mapping[str, Any]
) -> RowMapping | None:
    """The send checks for a known conversation (:func:`in_conversation_params`); None if
    the sender is not a member."""
    return (await conn.execute(_IN_CONVERSATION, dict(params))).mappings().first()


async def checks_to_user(conn: AsyncConnection, params: Mapping[str, Any]) -> RowMapping:
    """The send checks for a private message addressed by user id (:func:`to_user_params`)."""
    row: RowMapping = (await conn.execute(_TO_USER, dict(params))).mappings().one()
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
    require_friendship: bool,
    open_group: bool,
    params: Mapping[str, Any],
) -> tuple[int, int] | None:
    """PostgreSQL: the common send (:func:`send_params`); (message id, seq), or None if a
    guard refused (the rules changed)."""
    statement = _one_statement_send(
        peer="peer" in params, friendship=require_friendship, open_group=open_group
    )
    row = (await conn.execute(statement, dict(params))).first()
    return None if row is None else (int(row[0]), int(row[1]))


# --- PostgreSQL: a statement for a whole batch, in one round trip ------------------------

_ORDINAL = bindparam("ordinal", type_=BigInteger).label("ordinal")
_ASYNCPG = asyncpg_dialect()  # type: ignore[no-untyped-call]


class Pipelined:
    """A select compiled once for asyncpg, run for many parameter sets in one round trip.

    Each result row carries the position of the parameter set that produced it, so a set
    that matches no row (a refused guard, a sender who is not a member) answers None.
    """

    def __init__(self, statement: Any) -> None:
        compiled = statement.add_columns(_ORDINAL).compile(dialect=_ASYNCPG)
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Literals SQLAlchemy made parameters of (a kind compared with 'private', a + 1).
        self.fixed = {
            name: bind.value for name, bind in compiled.binds.items() if bind.value is not None
        }

    async def run(
        self, conn: AsyncConnection, param_sets: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[Any, Any] | None]:
        """One answer per parameter set. Writes commit together or not at all: a failure
        (a unique-constraint race) raises and changes nothing."""
        if not param_sets:
            return []
        args = []
        for ordinal, params in enumerate(param_sets):
            values = {**self.fixed, **params, "ordinal": ordinal}
            args.append(tuple(values[name] for name in self.names))
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        answers: list[Mapping[Any, Any] | None] = [None] * len(param_sets)
        for row in await driver.fetchmany(self.sql, args):
            answers[row["ordinal"]] = row
        return answers


CHECKS_IN_CONVERSATION = Pipelined(_IN_CONVERSATION)
CHECKS_TO_USER = Pipelined(_TO_USER)


def in_conversation_params(
    conversation_id: int, sender_id: int, client_msg_id: str
) -> dict[str, Any]:
    return {"cid": conversation_id, "sender": sender_id, "cmid": client_msg_id}


def to_user_params(
    sender_id: int, target_id: int, private_key: str, client_msg_id: str
) -> dict[str, Any]:
    return {"sender": sender_id, "target": target_id, "key": private_key, "cmid": client_msg_id}


@functools.cache
def pipelined_send(*, peer: bool, friendship: bool, open_group: bool) -> Pipelined:
    """The one-statement send, for a batch: (id, seq) rows, None where a guard refused;
    the run commits as one (a failure raises, having written nothing)."""
    return Pipelined(_one_statement_send(peer=peer, friendship=friendship, open_group=open_group))


def send_params(
    *,
    conversation_id: int,
    sender_id: int,
    peer_id: int | None,
    client_msg_id: str,
    kind: str,
    body: str,
    now: int,
) -> dict[str, Any]:
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
    return params


# --- SQLite: statements on the writer's own connection -----------------------------------

_PYSQLITE = pysqlite_dialect()


class Direct:
    """A statement compiled once for SQLite, run on a raw ``sqlite3`` connection (inside the
    transaction SQLAlchemy opened on it)."""

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=_PYSQLITE)
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.fixed = {
            name: bind.value for name, bind in compiled.binds.items() if bind.value is not None
        }

    def rows(self, db: sqlite3.Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        values = {**self.fixed, **params}
        cursor = db.execute(self.sql, tuple(values[name] for name in self.names))
        try:
            if cursor.description is None:
                return []
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()


async def raw_sqlite(conn: AsyncConnection) -> sqlite3.Connection:
    """The ``sqlite3`` connection under a SQLAlchemy connection (the single writer's)."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    db: sqlite3.Connection = driver.sqlite
    return db


DIRECT_CHECKS_IN_CONVERSATION = Direct(_IN_CONVERSATION)
DIRECT_CHECKS_TO_USER = Direct(_TO_USER)
_DIRECT_INSERT = Direct(
    messages.insert()
    .values(
        conversation_id=bindparam("cid"),
        seq=bindparam("seq"),
        sender_id=bindparam("sender"),
        client_msg_id=bindparam("cmid"),
        kind=bindparam("msg_kind"),
        body=bindparam("msg_body"),
        mentions=bindparam("msg_mentions"),
        mention_all=bindparam("msg_mention_all"),
        created_at=bindparam("now"),
    )
    .returning(messages.c.id)
)
_DIRECT_HANDOFF = Direct(
    message_handoffs.insert().values(
        message_id=bindparam("mid"), handed_at=bindparam("now"), created_at=bindparam("now")
    )
)
_DIRECT_ADVANCE_READ = Direct(ADVANCE_READ)


@functools.cache
def _direct_seq(*, peer: bool, friendship: bool, open_group: bool) -> Direct:
    return Direct(guarded_seq_statement(peer=peer, friendship=friendship, open_group=open_group))


def store_direct(
    db: sqlite3.Connection,
    *,
    require_friendship: bool,
    open_group: bool,
    params: Mapping[str, Any],
) -> tuple[int, int] | None:
    """SQLite: the common send (:func:`send_params`) as the one-statement send does it on
    PostgreSQL, in four statements; (message id, seq), or None if a guard refused."""
    taken = _direct_seq(
        peer="peer" in params, friendship=require_friendship, open_group=open_group
    ).rows(db, params)
    if not taken:
        return None
    seq = int(taken[0]["last_seq"])
    message_id = int(_DIRECT_INSERT.rows(db, {**params, "seq": seq})[0]["id"])
    _DIRECT_HANDOFF.rows(db, {"mid": message_id, "now": params["now"]})
    _DIRECT_ADVANCE_READ.rows(db, {"cid": params["cid"], "uid": params["sender"], "seq": seq})
    return message_id, seq
