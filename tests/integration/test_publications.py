"""Exactly what each action publishes, observed at the one place publications pass
(``Publisher.watch``), on an in-process context (SQLite in a temporary directory).

Asserting the whole list, not "contains", is the point: a push that goes missing, a
second one that appears, or one published for the wrong audience fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pigeon.actions import friends, groups, messages, sending
from pigeon.actions.accounts import register_user
from pigeon.actions.context import Context
from pigeon.actions.sending import Draft
from pigeon.bus.publication import MessageStored, Publication, ToDevices, ToGroup, ToUsers
from pigeon.common.settings import Settings
from pigeon.runtime import Runtime, build_runtime
from pigeon.storage.migrate import upgrade_async

pytestmark = pytest.mark.asyncio

PASSWORD = "Correct-Horse-7"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(data_dir=tmp_path)
    await upgrade_async(settings.database_url)
    built = await build_runtime(settings, with_gateway=False)
    yield built
    await built.stop()


async def user(ctx: Context, name: str) -> int:
    tokens = await register_user(ctx, name, PASSWORD)
    return tokens.user.id


async def befriend(ctx: Context, a: int, b: int) -> None:
    request = await friends.send_friend_request(ctx, a, b)
    await friends.accept_friend_request(ctx, b, request.id)


def shape(publication: Publication) -> tuple[Any, ...]:
    """What matters of a publication: its kind, frame type and audience."""
    if isinstance(publication, MessageStored):
        return ("message", publication.recipients, publication.exclude_connection)
    if isinstance(publication, ToUsers):
        return ("users", publication.frame_type, publication.user_ids)
    if isinstance(publication, ToGroup):
        return ("group", publication.frame_type, publication.skip_user_ids)
    if isinstance(publication, ToDevices):
        return ("devices", publication.frame_type, publication.targets)
    return ("close", publication.frame_type, publication.user_id)


async def test_a_private_send_publishes_one_message_to_both_members(runtime: Runtime) -> None:
    ctx = runtime.ctx
    alice, bob = await user(ctx, "alice"), await user(ctx, "bob")
    await befriend(ctx, alice, bob)
    draft = Draft(client_msg_id="m1", kind="text", body={"text": "hi"}, to_user_id=bob)
    with ctx.publisher.watch() as seen:
        ack = await sending.send_message(ctx, alice, draft, exclude_connection="c1")
    assert [shape(p) for p in seen] == [("message", [alice, bob], "c1")]
    stored = seen[0]
    assert isinstance(stored, MessageStored)
    assert (stored.conversation_id, stored.seq) == (ack.conversation_id, ack.seq)
    with ctx.publisher.watch() as retried:
        again = await sending.send_message(ctx, alice, draft, exclude_connection="c1")
    assert again == ack
    assert retried == []  # a retry stores and publishes nothing


async def test_a_group_send_is_left_to_the_fan_out(runtime: Runtime) -> None:
    ctx = runtime.ctx
    owner, a, b = await user(ctx, "owner"), await user(ctx, "amy"), await user(ctx, "ben")
    await befriend(ctx, owner, a)
    await befriend(ctx, owner, b)
    with ctx.publisher.watch() as created:
        group = await groups.create_group(ctx, owner, "team", [a, b])
    # The creation tip for the members' devices (fanned out), then the group event.
    assert [shape(p) for p in created] == [
        ("message", None, None),
        ("group", "event", []),
    ]
    draft = Draft(client_msg_id="g1", kind="text", body={"text": "all"}, conversation_id=group.id)
    with ctx.publisher.watch() as sent:
        await sending.send_message(ctx, a, draft, exclude_connection="c2", device="amy-laptop")
    assert [shape(p) for p in sent] == [("message", None, "c2")]
    assert isinstance(sent[0], MessageStored)
    assert sent[0].sender_device == "amy-laptop"


async def test_a_kick_tells_the_group_and_the_removed_member(runtime: Runtime) -> None:
    ctx = runtime.ctx
    owner, a, b = await user(ctx, "olga"), await user(ctx, "annie"), await user(ctx, "boris")
    await befriend(ctx, owner, a)
    await befriend(ctx, owner, b)
    group = await groups.create_group(ctx, owner, "crew", [a, b])
    with ctx.publisher.watch() as seen:
        await groups.kick_member(ctx, owner, group.id, b)
    assert [shape(p) for p in seen] == [
        ("message", None, None),  # the tip, for the remaining members
        ("group", "event", []),
        ("users", "event", [b]),  # the removed member hears of it, without the tip
    ]


async def test_read_and_typing_reach_only_who_they_concern(runtime: Runtime) -> None:
    ctx = runtime.ctx
    alice, bob = await user(ctx, "alina"), await user(ctx, "beatrix")
    await befriend(ctx, alice, bob)
    draft = Draft(client_msg_id="r1", kind="text", body={"text": "x"}, to_user_id=bob)
    ack = await sending.send_message(ctx, alice, draft)
    with ctx.publisher.watch() as seen:
        await messages.mark_read(ctx, bob, ack.conversation_id, ack.seq, exclude_connection="b")
        await messages.send_typing(ctx, bob, ack.conversation_id)
    assert [shape(p) for p in seen] == [
        ("users", "read", [alice, bob]),
        ("users", "typing", [alice]),
    ]


async def test_a_friend_request_reaches_both_sides(runtime: Runtime) -> None:
    ctx = runtime.ctx
    alice, bob = await user(ctx, "albert"), await user(ctx, "bobby")
    with ctx.publisher.watch() as seen:
        await friends.send_friend_request(ctx, alice, bob)
    assert [shape(p) for p in seen] == [("users", "event", [alice, bob])]
