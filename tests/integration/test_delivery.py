"""Delivery guarantees: idempotent sends, every device, receipts, unread counts, history."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from pigeon.client import ApiError
from tests.conftest import MakeClient
from tests.helpers import make_friends

pytestmark = pytest.mark.asyncio


async def test_retried_send_is_stored_once(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    conversation = await make_friends(alice, bob)

    first = await alice.send_text("once", conversation_id=conversation, client_msg_id="dup-1")
    again = await alice.send_text("once", conversation_id=conversation, client_msg_id="dup-1")
    over_http = await alice.request(
        "POST",
        f"/conversations/{conversation}/messages",
        json={"client_msg_id": "dup-1", "body": {"text": "once"}},
    )
    fields = ("message_id", "conversation_id", "seq", "ts", "client_msg_id")
    assert (
        [first[k] for k in fields] == [again[k] for k in fields] == [over_http[k] for k in fields]
    )
    racing = await asyncio.gather(
        *[
            alice.send_text("race", conversation_id=conversation, client_msg_id="dup-2")
            for _ in range(5)
        ]
    )
    assert len({ack["message_id"] for ack in racing}) == 1

    history = await bob.request("GET", f"/conversations/{conversation}/messages")
    texts = [m["body"]["text"] for m in history["messages"]]
    assert texts == ["once", "race"]
    assert (await bob.next_message())["client_msg_id"] == "dup-1"
    assert (await bob.next_message())["client_msg_id"] == "dup-2"
    with pytest.raises(TimeoutError):
        await bob.next_message(timeout=0.5)


async def test_a_client_msg_id_reused_for_another_conversation_is_refused(
    make_client: MakeClient,
) -> None:
    alice, bob, carol = await make_client(), await make_client(), await make_client()
    to_bob = await make_friends(alice, bob)
    to_carol = await make_friends(alice, carol)
    await alice.send_text("for bob", conversation_id=to_bob, client_msg_id="same-id")
    with pytest.raises(ApiError) as over_http:
        await alice.request(
            "POST",
            f"/conversations/{to_carol}/messages",
            json={"client_msg_id": "same-id", "body": {"text": "for carol"}},
        )
    assert (over_http.value.status, over_http.value.code) == (409, "client_msg_id_reused")
    with pytest.raises(ApiError) as over_socket:
        await alice.send_text("for carol", conversation_id=to_carol, client_msg_id="same-id")
    assert over_socket.value.code == "client_msg_id_reused"
    history = await carol.request("GET", f"/conversations/{to_carol}/messages")
    assert history["messages"] == []


async def test_three_devices_see_everything(make_client: MakeClient) -> None:
    alice_web = await make_client()
    alice_phone = await make_client(login_as=alice_web, device="mobile")
    alice_desk = await make_client(login_as=alice_web, device="desktop")
    bob = await make_client()
    conversation = await make_friends(alice_web, bob)

    await bob.send_text("to all of alice", conversation_id=conversation)
    for device in (alice_web, alice_phone, alice_desk):
        got = await device.next_message()
        assert got["body"]["text"] == "to all of alice"

    sent = await alice_phone.send_text("from my phone", conversation_id=conversation)
    for device in (alice_web, alice_desk, bob):
        got = await device.next_message()
        assert (got["body"]["text"], got["seq"]) == ("from my phone", sent["seq"])
    with pytest.raises(TimeoutError):
        await alice_phone.next_message(timeout=0.5)
    assert [m["seq"] for m in alice_phone.messages[conversation]] == [1, 2]


async def test_read_receipts_reach_peer_and_own_devices(make_client: MakeClient) -> None:
    alice = await make_client()
    bob_web = await make_client()
    bob_phone = await make_client(login_as=bob_web, device="mobile")
    conversation = await make_friends(alice, bob_web)
    for i in range(3):
        await alice.send_text(f"m{i}", conversation_id=conversation)
    listing = await bob_web.request("GET", "/conversations")
    [entry] = [c for c in listing["conversations"] if c["id"] == conversation]
    assert (entry["unread"], entry["last_seq"], entry["last_message"]["body"]["text"]) == (
        3,
        3,
        "m2",
    )
    assert entry["peer"]["id"] == alice.user_id

    await bob_web.mark_read(conversation, 2)
    for client in (alice, bob_phone):
        receipt = await client.wait_for(lambda f: f["type"] == "read", timeout=5)
        assert receipt == {
            "type": "read",
            "conversation_id": conversation,
            "user_id": bob_web.user_id,
            "seq": 2,
        }
    listing = await bob_phone.request("GET", "/conversations")
    [entry] = [c for c in listing["conversations"] if c["id"] == conversation]
    assert (entry["unread"], entry["read_seq"]) == (1, 2)
    seen_by_alice = await alice.request("GET", f"/conversations/{conversation}")
    assert seen_by_alice["peer_read_seq"] == 2
    # The marker never moves back, and cannot pass the last message.
    await bob_web.request("POST", f"/conversations/{conversation}/read", json={"seq": 1})
    await bob_web.request("POST", f"/conversations/{conversation}/read", json={"seq": 99})
    entry = await bob_web.request("GET", f"/conversations/{conversation}")
    assert (entry["read_seq"], entry["unread"]) == (3, 0)


async def test_history_pages_by_seq(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    conversation = await make_friends(alice, bob)
    for i in range(1, 26):
        await alice.send_text(f"m{i}", conversation_id=conversation)
    path = f"/conversations/{conversation}/messages"

    newest = await bob.request("GET", path, params={"limit": 10})
    assert [m["seq"] for m in newest["messages"]] == list(range(16, 26))
    assert newest["has_more"] is True
    older = await bob.request("GET", path, params={"before": 16, "limit": 10})
    assert [m["seq"] for m in older["messages"]] == list(range(6, 16))
    oldest = await bob.request("GET", path, params={"before": 6, "limit": 10})
    assert ([m["seq"] for m in oldest["messages"]], oldest["has_more"]) == ([1, 2, 3, 4, 5], False)
    after = await bob.request("GET", path, params={"after": 20})
    assert ([m["seq"] for m in after["messages"]], after["has_more"]) == (
        [21, 22, 23, 24, 25],
        False,
    )
    with pytest.raises(ApiError) as caught:
        await bob.request("GET", path, params={"after": 1, "before": 5})
    assert caught.value.code == "invalid_request"
    with pytest.raises(ApiError) as caught:
        await bob.request("GET", path, params={"limit": 100000})
    assert caught.value.code == "invalid_request"


async def test_outsiders_cannot_read_or_write(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    eve = await make_client(connect=False)
    conversation = await make_friends(alice, bob)
    await alice.send_text("secret", conversation_id=conversation)
    for call in (
        eve.request("GET", f"/conversations/{conversation}/messages"),
        eve.request("GET", f"/conversations/{conversation}"),
        eve.request(
            "POST",
            f"/conversations/{conversation}/messages",
            json={"client_msg_id": "x", "body": {"text": "let me in"}},
        ),
        eve.request("POST", f"/conversations/{conversation}/read", json={"seq": 1}),
    ):
        with pytest.raises(ApiError) as caught:
            await call
        assert (caught.value.status, caught.value.code) == (403, "not_member")
    with pytest.raises(ApiError) as caught:
        await eve.send_text("hi stranger", to_user_id=alice.user_id)
    assert caught.value.code == "not_friends"


async def test_recall_within_window_reaches_every_device_and_later_syncs(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    bob = await make_client()
    conversation = await make_friends(alice, bob)
    ack = await alice.send_text("oops", conversation_id=conversation)
    assert (await bob.next_message())["body"]["text"] == "oops"
    await bob.disconnect()

    recall = await alice.request("POST", f"/messages/{ack['message_id']}/recall")
    mine = await alice.next_message()
    assert (mine["kind"], mine["body"]["message_id"], mine["seq"]) == (
        "recall",
        ack["message_id"],
        recall["seq"],
    )
    await bob.connect()
    tip = await bob.next_message()
    assert (tip["kind"], tip["body"]["message_id"]) == ("recall", ack["message_id"])
    page = await bob.request("GET", f"/conversations/{conversation}/messages")
    original = page["messages"][0]
    assert (original["recalled"], original["body"]) == (True, {})

    with pytest.raises(ApiError) as caught:
        await bob.request("POST", f"/messages/{ack['message_id']}/recall")
    assert caught.value.status in (403, 422)
    other = await alice.send_text("mine", conversation_id=conversation)
    with pytest.raises(ApiError) as caught:
        await bob.request("POST", f"/messages/{other['message_id']}/recall")
    assert (caught.value.status, caught.value.code) == (403, "forbidden")


async def test_raw_socket_send_then_ack_then_push(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client()
    conversation = await make_friends(alice, bob)
    async with connect(alice.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": alice.access_token}))
        assert json.loads(await ws.recv())["type"] == "hello"
        await ws.send(
            json.dumps(
                {
                    "type": "send",
                    "ref": "r-1",
                    "client_msg_id": "raw-1",
                    "conversation_id": conversation,
                    "body": {"text": "<b>not bold</b>"},
                }
            )
        )
        ack = json.loads(await ws.recv())
        assert (ack["type"], ack["ref"], ack["seq"]) == ("ack", "r-1", 1)
    got = await bob.next_message()
    assert got["body"]["text"] == "<b>not bold</b>"
    assert got["id"] == ack["message_id"]
