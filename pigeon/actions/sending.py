"""Sending: checks, group commit, the write, and the publication after the commit.

Every send of a process goes through its group commit (:mod:`pigeon.common.batching`):
SQLite runs a batch in one transaction on the writer's own connection; PostgreSQL checks a
whole batch in one round trip and writes it in one more (pipelined, atomic).
"""

from __future__ import annotations

import functools
import sqlite3
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context
from pigeon.actions.uploads import attachment_body
from pigeon.bus.publication import (
    MessageStored,
    Publication,
    message_stored,
)
from pigeon.common.batching import GroupCommit
from pigeon.common.clock import now_ms
from pigeon.common.content import validate_body
from pigeon.common.errors import (
    Blocked,
    ClientMsgIdReused,
    Conflict,
    Forbidden,
    GroupDissolved,
    InvalidRequest,
    NotFound,
    NotFriends,
    NotMember,
    PigeonError,
)
from pigeon.common.models import Ack, ForwardedFrom, Message, Quote
from pigeon.storage import conversations as store
from pigeon.storage import groups as group_store
from pigeon.storage import handoffs as handoff_store
from pigeon.storage import messages as message_store
from pigeon.storage import sending
from pigeon.storage.users import get_users

log = structlog.get_logger(__name__)

ATTACHMENT_KINDS = frozenset({"image", "file", "voice"})


@dataclass(frozen=True)
class Draft:
    """What a client asks to send, before it has a place in a conversation."""

    client_msg_id: str
    kind: str
    body: dict[str, Any]
    conversation_id: int | None = None
    to_user_id: int | None = None
    mentions: list[int] = field(default_factory=list)
    mention_all: bool = False
    reply_to: int | None = None  # the id of a message of the same conversation
    forwarded_from: ForwardedFrom | None = None  # a copy of another conversation's message


async def send_message(
    ctx: Context,
    sender_id: int,
    draft: Draft,
    *,
    exclude_connection: str | None = None,
    device: str | None = None,
) -> Ack:
    """Store a message and return its ack; publish it only after the commit.

    A retry with a ``client_msg_id`` the sender already used returns the first ack and
    stores nothing, also when two retries race (the unique constraint decides).
    """
    ack, _stored = await store_message(
        ctx, sender_id, draft, exclude_connection=exclude_connection, device=device
    )
    return ack


async def store_message(
    ctx: Context,
    sender_id: int,
    draft: Draft,
    *,
    exclude_connection: str | None = None,
    device: str | None = None,
    friends_only: bool | None = None,
) -> tuple[Ack, bool]:
    """:func:`send_message`, also saying whether this call stored it (False: a retry).
    ``friends_only=False`` lifts ``messaging.require_friendship`` (the server push API).

    Sends go through the process's group commit: those arriving while a batch is being
    written share the next transaction and its commit (one fsync on SQLite); each is
    checked, stored and answered as if alone.
    """
    if not draft.client_msg_id or len(draft.client_msg_id) > 64:
        raise InvalidRequest("client_msg_id must be 1-64 characters")
    body = validate_body(draft.kind, draft.body, ctx.settings.messaging.max_text_chars)
    if draft.kind in ATTACHMENT_KINDS:
        body = await attachment_body(ctx, draft.kind, body)
    elif draft.kind == "contact":
        body = await _contact_card(ctx, body["user_id"])
    if friends_only is None:
        friends_only = ctx.settings.messaging.require_friendship
    quote = await _quote(ctx, sender_id, draft) if draft.reply_to is not None else None
    origin = _Origin(exclude_connection, device)
    job = _SendJob(sender_id, draft, body, origin, friends_only, quote, draft.forwarded_from)
    sent = await _group_commit(ctx).submit(job, key=_lane_key(job))
    return sent.ack, sent.stored


@dataclass(frozen=True)
class _SendJob:
    sender_id: int
    draft: Draft
    body: dict[str, Any]
    origin: _Origin
    friends_only: bool  # private messages only between friends
    quote: Quote | None = None  # a reply: the message it answers
    forwarded: ForwardedFrom | None = None

    @property
    def stored_body(self) -> dict[str, Any]:
        """The body as stored: a reply keeps the id of the message it answers, a forwarded
        message where it came from."""
        body = dict(self.body)
        if self.quote is not None:
            body["reply_to"] = self.quote.message_id
        if self.forwarded is not None:
            body["forwarded_from"] = self.forwarded.model_dump()
        return body


async def _contact_card(ctx: Context, user_id: int) -> dict[str, Any]:
    """A contact card as the server knows the user, not as the sender describes them."""
    async with ctx.db.read() as conn:
        user = (await get_users(conn, [user_id])).get(user_id)
    if user is None:
        raise NotFound("no such user")
    return {
        "user_id": user.id,
        "username": user.username,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
    }


async def _quote(ctx: Context, sender_id: int, draft: Draft) -> Quote:
    """The message a reply answers: one the sender can see in the same conversation."""
    async with ctx.db.read() as conn:
        row = await message_store.find_message(conn, draft.reply_to or 0)
        if row is None or row["kind"] in ("system", "recall"):
            raise InvalidRequest("reply_to: no such message to reply to")
        membership = await store.find_membership(conn, row["conversation_id"], sender_id)
        if membership is None or row["seq"] <= membership["visible_from_seq"]:
            raise InvalidRequest("reply_to: no such message to reply to")
        if draft.conversation_id is not None:
            same = row["conversation_id"] == draft.conversation_id
        else:  # addressed by user: the original must be in the private chat with them
            private = await store.find_private(conn, sender_id, draft.to_user_id or 0)
            same = row["conversation_id"] == private
        if not same:
            raise InvalidRequest("reply_to: the message is in another conversation")
    return message_store.quote_of(row)


@dataclass(frozen=True)
class _Sent:
    ack: Ack
    stored: bool  # False: a retry of a message already stored
    publication: MessageStored | None


def _group_commit(ctx: Context) -> GroupCommit[_SendJob, _Sent]:
    if ctx.send_commit is None:
        ctx.send_commit = GroupCommit(
            functools.partial(_write_sends, ctx),
            lanes=1 if ctx.db.is_sqlite else ctx.settings.database.write_lanes,
            max_batch=ctx.settings.database.max_batch,
        )
    commit: GroupCommit[_SendJob, _Sent] = ctx.send_commit
    return commit


def _lane_key(job: _SendJob) -> int:
    """One conversation's sends share a lane (and so keep their order within it)."""
    if job.draft.conversation_id is not None:
        return job.draft.conversation_id
    return zlib.crc32(store.private_key(job.sender_id, job.draft.to_user_id or 0).encode())


async def _write_sends(ctx: Context, jobs: list[_SendJob]) -> list[_Sent | BaseException]:
    """Store a batch in one transaction; if that fails as a whole (a unique-constraint race
    on a client message id, a deadlock), store each send alone."""
    if not ctx.db.is_sqlite:
        return await _write_pipelined(ctx, jobs)
    if len(jobs) > 1:
        try:
            return await _write_together(ctx, jobs)
        except Exception as exc:
            log.info("send_batch_split", sends=len(jobs), error=type(exc).__name__)
    return [await _write_alone(ctx, job) for job in jobs]


async def _write_pipelined(ctx: Context, jobs: list[_SendJob]) -> list[_Sent | BaseException]:
    """PostgreSQL: the checks of the whole batch in one round trip, then the common sends
    (an existing conversation, no mentions) written by runs of one statement shape, each
    run in one round trip and one commit. The others, and sends whose guard refused, are
    stored alone, in their place in the batch; publications keep the batch's order."""
    results: list[_Sent | BaseException | None] = [None] * len(jobs)
    published: list[Publication] = []
    async with ctx.db.single_statement() as conn:
        plans = await _plan_many(conn, jobs, results)
        start = 0
        while start < len(jobs):
            if results[start] is not None:
                start += 1
                continue
            plan = plans[start]
            if plan is None:
                await ctx.publish(published)
                published = []
                results[start] = await _write_alone(ctx, jobs[start])
                start += 1
                continue
            end = start + 1
            while end < len(jobs) and results[end] is None and _same_shape(plans[end], plan):
                end += 1
            published += await _store_run(ctx, conn, jobs, plans, results, start, end)
            start = end
    await ctx.publish(published)
    return [r if r is not None else RuntimeError("send not written") for r in results]


async def _plan_many(
    conn: AsyncConnection,
    jobs: list[_SendJob],
    results: list[_Sent | BaseException | None],
) -> list[_Plan | None]:
    """Check every send of the batch (two round trips at most); a refusal goes straight
    into ``results``. None: a send the one-statement write does not cover."""
    in_conversation: list[int] = []
    to_user: list[int] = []
    for i, job in enumerate(jobs):
        try:
            _check_address(job.sender_id, job.draft)
        except PigeonError as exc:
            results[i] = exc
            continue
        (to_user if job.draft.to_user_id is not None else in_conversation).append(i)
    rows: dict[int, Mapping[Any, Any] | None] = {}
    found = await sending.CHECKS_IN_CONVERSATION.run(
        conn,
        [
            sending.in_conversation_params(
                jobs[i].draft.conversation_id or 0, jobs[i].sender_id, jobs[i].draft.client_msg_id
            )
            for i in in_conversation
        ],
    )
    rows.update(zip(in_conversation, found, strict=True))
    found = await sending.CHECKS_TO_USER.run(
        conn,
        [
            sending.to_user_params(
                jobs[i].sender_id,
                jobs[i].draft.to_user_id or 0,
                store.private_key(jobs[i].sender_id, jobs[i].draft.to_user_id or 0),
                jobs[i].draft.client_msg_id,
            )
            for i in to_user
        ],
    )
    rows.update(zip(to_user, found, strict=True))
    plans: list[_Plan | None] = [None] * len(jobs)
    for i, row in rows.items():
        draft = jobs[i].draft
        if draft.mentions or draft.mention_all:
            continue  # needs the mentioned members' roles: checked again alone
        try:
            plan = _decide(jobs[i], row, {})
        except PigeonError as exc:
            results[i] = exc
            continue
        if plan.existing_id is None and plan.conversation_id is not None:
            plans[i] = plan
    return plans


def _same_shape(plan: _Plan | None, other: _Plan) -> bool:
    return plan is not None and (
        (plan.peer_id is None, plan.require_friendship, plan.is_group)
        == (other.peer_id is None, other.require_friendship, other.is_group)
    )


async def _store_run(
    ctx: Context,
    conn: AsyncConnection,
    jobs: list[_SendJob],
    plans: list[_Plan | None],
    results: list[_Sent | BaseException | None],
    start: int,
    end: int,
) -> list[Publication]:
    """Write jobs[start:end] (one statement shape) in one round trip; their publications."""
    first = plans[start]
    assert first is not None
    statement = sending.pipelined_send(
        peer=first.peer_id is not None,
        friendship=first.require_friendship,
        open_group=first.is_group,
    )
    now = now_ms()
    params = []
    for i in range(start, end):
        plan, job = plans[i], jobs[i]
        assert plan is not None
        assert plan.conversation_id is not None
        params.append(
            sending.send_params(
                conversation_id=plan.conversation_id,
                sender_id=job.sender_id,
                peer_id=plan.peer_id,
                client_msg_id=job.draft.client_msg_id,
                kind=job.draft.kind,
                body=message_store.encode_body(job.stored_body),
                now=now,
            )
        )
    try:
        rows = await statement.run(conn, params)
    except Exception as exc:
        # Nothing of the run was written (a unique-constraint race, a deadlock).
        log.info("send_batch_split", sends=end - start, error=type(exc).__name__)
        rows = [None] * (end - start)
    publications: list[Publication] = []
    for offset, row in enumerate(rows):
        i = start + offset
        plan, job = plans[i], jobs[i]
        assert plan is not None
        assert plan.conversation_id is not None
        if row is None:
            await ctx.publish(publications)
            publications = []
            results[i] = await _write_alone(ctx, job)
            continue
        message = Message(
            id=int(row["id"]),
            conversation_id=plan.conversation_id,
            seq=int(row["seq"]),
            sender_id=job.sender_id,
            client_msg_id=job.draft.client_msg_id,
            kind=job.draft.kind,
            body=job.body,
            ts=now,
            reply_to=job.quote,
            forwarded_from=job.forwarded,
        )
        results[i] = _Sent(Ack.of(message), True, None)
        publications.append(_publication(message, plan, job.origin))
    return publications


async def _write_together(ctx: Context, jobs: list[_SendJob]) -> list[_Sent | BaseException]:
    results: list[_Sent | BaseException] = []
    finished = ctx.handoffs.take() if ctx.db.is_sqlite else []
    try:
        async with ctx.db.transaction() as conn:
            direct = await sending.raw_sqlite(conn) if ctx.db.is_sqlite else None
            for job in jobs:
                try:
                    results.append(await _store_checked(conn, direct, job))
                except PigeonError as exc:
                    # Refused before it wrote anything: the others go on.
                    results.append(exc)
            await handoff_store.finish_handoffs(conn, finished)
    except BaseException:
        ctx.handoffs.finish(finished)
        raise
    await ctx.publish(
        [r.publication for r in results if isinstance(r, _Sent) and r.publication is not None]
    )
    return results


async def _write_alone(ctx: Context, job: _SendJob) -> _Sent | BaseException:
    try:
        return (await _write_together(ctx, [job]))[0]
    except IntegrityError as exc:
        # A retry raced the first attempt (from another process): the unique constraint
        # decided, and the first one's ack answers.
        async with ctx.db.read() as conn:
            existing = await message_store.find_by_client_id(
                conn, job.sender_id, job.draft.client_msg_id
            )
        if existing is None:
            return exc
        conversation_id = job.draft.conversation_id
        if conversation_id is not None and existing["conversation_id"] != conversation_id:
            return ClientMsgIdReused()
        return _Sent(Ack.of(message_store.message_from_row(existing)), False, None)
    except Exception as exc:
        return exc


async def _store_checked(
    conn: AsyncConnection, direct: sqlite3.Connection | None, job: _SendJob
) -> _Sent:
    """Check and store one send inside a batch's transaction (``direct``: on SQLite, the
    writer's own connection, for the common statements)."""
    for _attempt in (1, 2):
        plan = await _plan(conn, job, direct)
        if plan.existing_id is not None:
            existing = await message_store.find_message(conn, plan.existing_id)
            assert existing is not None
            if existing["conversation_id"] != plan.conversation_id:
                # Not a retry of that send: the id names another message.
                raise ClientMsgIdReused()
            return _Sent(Ack.of(message_store.message_from_row(existing)), False, None)
        if _fits_one_statement(plan):
            message = await _store_common(conn, direct, job, plan)
        else:
            message = await _store(conn, job, plan)
        if message is not None:
            return _Sent(Ack.of(message), True, _publication(message, plan, job.origin))
        # Membership, a block or the group changed between the checks and the write: check
        # again, which now raises the precise error (or passes, and we write).
    raise Conflict("the conversation changed while sending; try again")


@dataclass(frozen=True)
class _Plan:
    """What the checks decided, for the write to carry out (and re-assert atomically)."""

    conversation_id: int | None  # None: the first message of a private chat
    peer_id: int | None  # private chats: the other member
    is_group: bool
    members: list[int]  # private chats: both members (groups: the fan-out resolves them)
    mentions: list[int]
    mention_all: bool
    require_friendship: bool
    existing_id: int | None  # a retried send: the message already stored


@dataclass(frozen=True)
class _Origin:
    """Where a send came from: the socket that gets the ack instead of the push, and the
    device kind it is (its client holds the message)."""

    connection: str | None
    device: str | None


async def _plan(
    conn: AsyncConnection, job: _SendJob, direct: sqlite3.Connection | None = None
) -> _Plan:
    """Check, in one read, that the sender may send this; raise the precise error.

    The write re-asserts the checks atomically (its guards), so they may run before it.
    """
    sender_id, draft = job.sender_id, job.draft
    _check_address(sender_id, draft)
    row: Mapping[Any, Any] | None
    if draft.to_user_id is not None:
        key = store.private_key(sender_id, draft.to_user_id)
        params = sending.to_user_params(sender_id, draft.to_user_id, key, draft.client_msg_id)
        if direct is not None:
            row = sending.DIRECT_CHECKS_TO_USER.rows(direct, params)[0]
        else:
            row = await sending.checks_to_user(conn, params)
    else:
        assert draft.conversation_id is not None
        params = sending.in_conversation_params(
            draft.conversation_id, sender_id, draft.client_msg_id
        )
        if direct is not None:
            found = sending.DIRECT_CHECKS_IN_CONVERSATION.rows(direct, params)
            row = found[0] if found else None
        else:
            row = await sending.checks_in_conversation(conn, params)
    roles: dict[int, str] = {}
    if row is not None and draft.mentions and row.get("kind") == "group":
        assert draft.conversation_id is not None
        wanted = list(dict.fromkeys(draft.mentions))
        roles = await group_store.roles_of(conn, draft.conversation_id, wanted)
    return _decide(job, row, roles)


def _check_address(sender_id: int, draft: Draft) -> None:
    if draft.to_user_id is None and draft.conversation_id is None:
        raise InvalidRequest("give conversation_id or to_user_id")
    if draft.to_user_id == sender_id:
        raise InvalidRequest("you cannot start a conversation with yourself")


def _decide(job: _SendJob, row: Mapping[Any, Any] | None, group_roles: dict[int, str]) -> _Plan:
    """What the checks' row says about this send (``group_roles``: the mentioned members of
    a group); raise the precise error if it may not be sent."""
    sender_id, draft, friendship = job.sender_id, job.draft, job.friends_only
    wanted = list(dict.fromkeys(draft.mentions))
    if draft.to_user_id is not None:
        assert row is not None
        peer = draft.to_user_id
        if not row["target_exists"]:
            raise NotFound("no such user")
        _check_peer(row, friendship)
        members = [sender_id, peer]
        mentions = [uid for uid in wanted if uid in members]
        return _Plan(
            row["conversation_id"],
            peer,
            False,
            members,
            mentions,
            False,
            friendship,
            row["existing_id"],
        )
    assert draft.conversation_id is not None
    conversation_id = draft.conversation_id
    if row is None:
        raise NotMember()
    if row["kind"] == "group":
        if row["dissolved_at"] is not None:
            raise GroupDissolved()
        mention_all = draft.mention_all
        if mention_all and row["role"] not in ("owner", "admin"):
            raise Forbidden("only the group owner or admins may mention everyone")
        mentions = [uid for uid in wanted if uid in group_roles]
        return _Plan(
            conversation_id, None, True, [], mentions, mention_all, False, row["existing_id"]
        )
    peer_id = row["peer_id"]
    if peer_id is not None:
        _check_peer(row, friendship)
    members = [sender_id] if peer_id is None else [sender_id, peer_id]
    mentions = [uid for uid in wanted if uid in members]
    return _Plan(
        conversation_id, peer_id, False, members, mentions, False, friendship, row["existing_id"]
    )


def _check_peer(row: Mapping[Any, Any], require_friendship: bool) -> None:
    if row["existing_id"] is not None:
        return  # a retry of a stored message answers with its ack, whatever changed since
    if row["blocked"]:
        raise Blocked()
    if require_friendship and not row["friends"]:
        raise NotFriends()


def _fits_one_statement(plan: _Plan) -> bool:
    """The common send (an existing conversation, no mentions): one statement on
    PostgreSQL, four straight on the writer's connection on SQLite. Everything else takes
    the general path."""
    return plan.conversation_id is not None and not plan.mentions and not plan.mention_all


async def _store_common(
    conn: AsyncConnection, direct: sqlite3.Connection | None, job: _SendJob, plan: _Plan
) -> Message | None:
    """The common send's write; None if a guard refused (the rules changed)."""
    assert plan.conversation_id is not None
    now = now_ms()
    params = sending.send_params(
        conversation_id=plan.conversation_id,
        sender_id=job.sender_id,
        peer_id=plan.peer_id,
        client_msg_id=job.draft.client_msg_id,
        kind=job.draft.kind,
        body=message_store.encode_body(job.stored_body),
        now=now,
    )
    if direct is not None:
        stored = sending.store_direct(
            direct,
            require_friendship=plan.require_friendship,
            open_group=plan.is_group,
            params=params,
        )
    else:
        stored = await sending.store_in_one_statement(
            conn,
            require_friendship=plan.require_friendship,
            open_group=plan.is_group,
            params=params,
        )
    if stored is None:
        return None
    message_id, seq = stored
    return Message(
        id=message_id,
        conversation_id=plan.conversation_id,
        seq=seq,
        sender_id=job.sender_id,
        client_msg_id=job.draft.client_msg_id,
        kind=job.draft.kind,
        body=job.body,
        ts=now,
        reply_to=job.quote,
        forwarded_from=job.forwarded,
    )


async def _store(conn: AsyncConnection, job: _SendJob, plan: _Plan) -> Message | None:
    """Store the message in as few statements as the write lock allows; None if a guard
    refused (the rules changed)."""
    now = now_ms()
    sender_id, draft = job.sender_id, job.draft
    conversation_id = plan.conversation_id
    if conversation_id is None:
        assert plan.peer_id is not None
        conversation_id = await store.create_private(conn, sender_id, plan.peer_id, now)
    seq = await store.allocate_seq_guarded(
        conn,
        conversation_id,
        now,
        sender_id=sender_id,
        peer_id=plan.peer_id,
        require_friendship=plan.require_friendship,
        open_group=plan.is_group,
    )
    if seq is None:
        return None
    message_id = await message_store.insert_message(
        conn,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        client_msg_id=draft.client_msg_id,
        kind=draft.kind,
        body=job.stored_body,
        mentions=plan.mentions,
        mention_all=plan.mention_all,
        now=now,
    )
    await store.advance_read(conn, conversation_id, sender_id, seq)
    if plan.mention_all:
        await group_store.flag_mention_all(conn, conversation_id, sender_id, seq)
    elif plan.mentions:
        await store.flag_mentions(conn, conversation_id, plan.mentions, seq)
    return Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        client_msg_id=draft.client_msg_id,
        kind=draft.kind,
        body=job.body,
        ts=now,
        reply_to=job.quote,
        forwarded_from=job.forwarded,
        mentions=plan.mentions,
        mention_all=plan.mention_all,
    )


def _publication(message: Message, plan: _Plan, origin: _Origin) -> MessageStored:
    """Private: routed to both members by the storing process. Groups: fanned out."""
    recipients = None if plan.is_group else plan.members
    return message_stored(
        message, recipients, exclude_connection=origin.connection, sender_device=origin.device
    )
