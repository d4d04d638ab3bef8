"""Private chat through the SDK against a real server: delivery, order, idempotency, devices."""

from __future__ import annotations

import pytest

from tests.conftest import MakeClient
from tests.helpers import make_friends

pytestmark = pytest.mark.asyncio


async def test_two_users_chat_both_ways(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    await make_friends(alice, bob)

    ack = await alice.send_text("hello bob", to_user_id=bob.user_id)
    got = await bob.next_message()
    assert got["body"] == {"text": "hello bob"}
    assert got["sender_id"] == alice.user_id
    assert (got["conversation_id"], got["seq"], got["id"]) == (
        ack["conversation_id"],
        ack["seq"],
        ack["message_id"],
    )

    reply = await bob.send_text("hi alice 👋", conversation_id=ack["conversation_id"])
    back = await alice.next_message()
    assert back["body"]["text"] == "hi alice 👋"
    assert back["seq"] == ack["seq"] + 1 == reply["seq"]


async def test_offline_user_gets_500_messages_in_order_exactly_once(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    bob = await make_client()
    await make_friends(alice, bob)
    first = await alice.send_text("before", to_user_id=bob.user_id)
    assert (await bob.next_message())["seq"] == first["seq"]
    conversation = first["conversation_id"]
    await bob.disconnect()

    acks = [await alice.send_text(f"m{i}", conversation_id=conversation) for i in range(500)]

    await bob.connect()
    received = [await bob.next_message(timeout=5) for _ in range(500)]
    assert [m["body"]["text"] for m in received] == [f"m{i}" for i in range(500)]
    assert [m["seq"] for m in received] == [a["seq"] for a in acks]
    assert len({m["id"] for m in received}) == 500
    with pytest.raises(TimeoutError):
        await bob.next_message(timeout=0.5)
    assert [m["seq"] for m in bob.messages[conversation]] == list(
        range(first["seq"], acks[-1]["seq"] + 1)
    )
