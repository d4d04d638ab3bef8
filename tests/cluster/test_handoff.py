"""Nothing committed stays unpushed: a message stored by a process that died before it
published (kill -9 right after the commit) still reaches every online device, without
a reconnect and without another message in the conversation.

The test plays the dying process: it commits the message and its hand-off row straight
into the cluster's PostgreSQL, exactly as a send does, and publishes nothing. The
``handoff`` worker must find the row and have the message fanned out."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from pigeon.client import PigeonClient
from tests.cluster.common import users, wait_until
from tests.cluster.harness import PG_URL, ClusterProcess
from tests.helpers import make_friends, make_group

pytestmark = [pytest.mark.asyncio, pytest.mark.cluster]

PUSH_BOUND_S = 5.0


async def commit_without_publishing(
    cluster: ClusterProcess, conversation_id: int, sender_id: int, text: str
) -> int:
    """Store a message (seq, row, hand-off) as a send does, then 'die': publish nothing."""
    parts = urlsplit(PG_URL)
    conn = await asyncpg.connect(
        urlunsplit(("postgresql", parts.netloc, f"/{cluster.database}", "", ""))
    )
    try:
        async with conn.transaction():
            now = int(time.time() * 1000)
            seq = await conn.fetchval(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $2 "
                "WHERE id = $1 RETURNING last_seq",
                conversation_id,
                now,
            )
            message_id = await conn.fetchval(
                "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind,"
                " body, mentions, mention_all, created_at)"
                " VALUES ($1, $2, $3, $4, 'text', $5, '[]', false, $6) RETURNING id",
                conversation_id,
                seq,
                sender_id,
                f"orphan-{seq}",
                json.dumps({"text": text}),
                now,
            )
            await conn.execute(
                "INSERT INTO message_handoffs (message_id, handed_at, created_at)"
                " VALUES ($1, $2, $2)",
                message_id,
                now,
            )
        return int(seq)
    finally:
        await conn.close()


async def pending_handoffs(cluster: ClusterProcess) -> int:
    parts = urlsplit(PG_URL)
    conn = await asyncpg.connect(
        urlunsplit(("postgresql", parts.netloc, f"/{cluster.database}", "", ""))
    )
    try:
        return int(await conn.fetchval("SELECT count(*) FROM message_handoffs"))
    finally:
        await conn.close()


def holds(client: PigeonClient, conversation_id: int, seq: int) -> bool:
    return client.inbox.last_seq.get(conversation_id, 0) >= seq


async def test_private_message_of_a_dead_sender_process_is_pushed(
    cluster: ClusterProcess,
) -> None:
    async with users(cluster) as make:
        alice = await make("gw1")
        alice_phone = await make("gw2", device="mobile", login_as=alice)
        bob = await make("gw3")
        conversation = await make_friends(alice, bob)
        started = time.monotonic()
        seq = await commit_without_publishing(cluster, conversation, alice.user_id, "orphan")
        await wait_until(
            lambda: holds(bob, conversation, seq) and holds(alice_phone, conversation, seq),
            PUSH_BOUND_S,
            "the orphaned private message on bob's and alice's other device",
        )
        assert time.monotonic() - started < PUSH_BOUND_S
        assert [m["body"]["text"] for m in bob.messages[conversation]] == ["orphan"]
        assert bob.reconnects == 0
        assert alice_phone.reconnects == 0


@pytest.mark.parametrize("hot", [False, True], ids=["group", "hot group"])
async def test_group_message_of_a_dead_sender_process_reaches_every_member(
    cluster: ClusterProcess, hot: bool
) -> None:
    """Pushed by a fan-out worker, as the message itself or (hot) as a notice to pull."""
    async with users(cluster) as make:
        owner = await make("gw1")
        members = [await make(gw) for gw in ("gw2", "gw3", "gw1", "gw2")]
        group = await make_group(owner, members)
        conversation = int(group["id"])
        if hot:
            await owner.request("PATCH", f"/groups/{conversation}", json={"hot": True})
        seq = await commit_without_publishing(cluster, conversation, owner.user_id, "to all")
        await wait_until(
            lambda: all(holds(m, conversation, seq) for m in members),
            PUSH_BOUND_S,
            "the orphaned group message on every member",
        )
        for member in members:
            assert member.messages[conversation][-1]["body"]["text"] == "to all"
            assert member.reconnects == 0


async def test_hand_offs_are_finished(cluster: ClusterProcess) -> None:
    """After the pushes above (and the sends of the fixtures), no row is left behind."""

    deadline = time.monotonic() + PUSH_BOUND_S
    while await pending_handoffs(cluster):
        assert time.monotonic() < deadline, "hand-off rows were never finished"
        await asyncio.sleep(0.2)
