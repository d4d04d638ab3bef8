"""Queries for messages: insert with idempotency, pages by sequence number, and what a
message carries from outside its row (its reactions, the message it replies to)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Integer, bindparam, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.common.models import ForwardedFrom, Message, Quote
from pigeon.storage.changes import reactions_of
from pigeon.storage.handoffs import insert_handoff
from pigeon.storage.schema import messages


def message_from_row(row: RowMapping) -> Message:
    """The message as stored; a reply's quote is put on by :func:`complete`."""
    recalled = row["recalled_at"] is not None
    body = {} if recalled else json.loads(row["body"])
    forwarded = body.pop("forwarded_from", None)
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        sender_id=row["sender_id"],
        client_msg_id=row["client_msg_id"],
        kind=row["kind"],
        body=body,
        ts=row["created_at"],
        forwarded_from=ForwardedFrom.model_validate(forwarded) if forwarded else None,
        recalled=recalled,
        mentions=json.loads(row["mentions"]),
        mention_all=bool(row["mention_all"]),
        edited_at=row["edited_at"],
        version=row["version"],
    )


SNIPPET_CHARS = 140


def quote_of(row: RowMapping) -> Quote:
    """How a reply shows the message it answers."""
    recalled = row["recalled_at"] is not None
    body = {} if recalled else json.loads(row["body"])
    snippet = body.get("text") or body.get("name") or body.get("label") or body.get("nickname")
    snippet = snippet or ""
    return Quote(
        message_id=row["id"],
        seq=row["seq"],
        sender_id=row["sender_id"],
        kind=row["kind"],
        snippet=snippet[:SNIPPET_CHARS],
        recalled=recalled,
    )


async def complete(conn: AsyncConnection, found: list[Message]) -> list[Message]:
    """The messages with what lives outside their rows put on: the quote of the message a
    reply answers (its ``reply_to`` in the stored body), and reactions on those whose
    version says they changed. Messages with neither cost no query."""
    quoted = {m.id: m.body["reply_to"] for m in found if "reply_to" in m.body}
    changed = [m.id for m in found if m.version > 0 and not m.recalled]
    if not quoted and not changed:
        return found
    reactions = await reactions_of(conn, changed)
    quotes: dict[int, Quote] = {}
    if quoted:
        query = select(messages).where(messages.c.id.in_(set(quoted.values())))
        quotes = {row["id"]: quote_of(row) for row in (await conn.execute(query)).mappings()}
    done = []
    for m in found:
        extra: dict[str, Any] = {}
        if m.id in reactions:
            extra["reactions"] = reactions[m.id]
        if m.id in quoted:
            extra["body"] = {k: v for k, v in m.body.items() if k != "reply_to"}
            extra["reply_to"] = quotes.get(quoted[m.id])
        done.append(m.model_copy(update=extra) if extra else m)
    return done


_FIND_BY_CLIENT_ID = select(messages).where(
    messages.c.sender_id == bindparam("sender"), messages.c.client_msg_id == bindparam("cmid")
)
_INSERT = messages.insert().returning(messages.c.id)
_PAGE_AFTER = (
    select(messages)
    .where(messages.c.conversation_id == bindparam("cid"), messages.c.seq > bindparam("after"))
    .order_by(messages.c.seq)
    .limit(bindparam("limit", type_=Integer))
)


def encode_body(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def find_by_client_id(
    conn: AsyncConnection, sender_id: int, client_msg_id: str
) -> RowMapping | None:
    params = {"sender": sender_id, "cmid": client_msg_id}
    return (await conn.execute(_FIND_BY_CLIENT_ID, params)).mappings().first()


async def find_message(conn: AsyncConnection, message_id: int) -> RowMapping | None:
    query = select(messages).where(messages.c.id == message_id)
    return (await conn.execute(query)).mappings().first()


async def insert_message(
    conn: AsyncConnection,
    *,
    conversation_id: int,
    seq: int,
    sender_id: int | None,
    client_msg_id: str | None,
    kind: str,
    body: dict[str, Any],
    mentions: list[int],
    mention_all: bool,
    now: int,
) -> int:
    """Store a message and its hand-off row (it is not fanned out yet); its id."""
    row = {
        "conversation_id": conversation_id,
        "seq": seq,
        "sender_id": sender_id,
        "client_msg_id": client_msg_id,
        "kind": kind,
        "body": encode_body(body),
        "mentions": json.dumps(mentions),
        "mention_all": mention_all,
        "created_at": now,
    }
    message_id = int((await conn.execute(_INSERT, row)).scalar_one())
    await insert_handoff(conn, message_id, now)
    return message_id


async def mark_recalled(conn: AsyncConnection, message_id: int, now: int) -> None:
    await conn.execute(update(messages).where(messages.c.id == message_id).values(recalled_at=now))


async def page_after(
    conn: AsyncConnection, conversation_id: int, after: int, limit: int
) -> tuple[list[Message], bool]:
    """Messages with seq > ``after``, ascending; and whether more follow."""
    params = {"cid": conversation_id, "after": after, "limit": limit + 1}
    rows = list((await conn.execute(_PAGE_AFTER, params)).mappings())
    page = await complete(conn, [message_from_row(r) for r in rows[:limit]])
    return page, len(rows) > limit


async def page_before(
    conn: AsyncConnection, conversation_id: int, before: int, floor: int, limit: int
) -> tuple[list[Message], bool]:
    """Messages with ``floor`` < seq < ``before``, ascending; and whether older ones exist."""
    query = (
        select(messages)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.seq < before,
            messages.c.seq > floor,
        )
        .order_by(messages.c.seq.desc())
        .limit(limit + 1)
    )
    rows = list((await conn.execute(query)).mappings())
    page = await complete(conn, [message_from_row(r) for r in reversed(rows[:limit])])
    return page, len(rows) > limit


async def last_messages(conn: AsyncConnection, pairs: list[tuple[int, int]]) -> dict[int, Message]:
    """The message at each (conversation id, seq), keyed by conversation id."""
    wanted = [(cid, seq) for cid, seq in pairs if seq > 0]
    if not wanted:
        return {}
    query = select(messages).where(tuple_(messages.c.conversation_id, messages.c.seq).in_(wanted))
    found = [message_from_row(row) for row in (await conn.execute(query)).mappings()]
    return {m.conversation_id: m for m in await complete(conn, found)}
