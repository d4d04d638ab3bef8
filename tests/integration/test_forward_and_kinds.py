"""Forwarding copies of messages to other conversations, and the location and contact
kinds; every refusal with its code."""

from __future__ import annotations

from typing import Any

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import make_friends, make_group
from tests.integration.test_uploads import upload

pytestmark = pytest.mark.asyncio


async def upload_file(client: PigeonClient, name: str, data: bytes) -> dict[str, Any]:
    response = await upload(client, data, name, "file", "text/plain")
    assert response.status_code == 201, response.text
    uploaded: dict[str, Any] = response.json()
    return uploaded


async def test_forwarded_copies_carry_their_origin_and_point_at_the_same_file(
    make_client: MakeClient,
) -> None:
    alice, bob, carol = [await make_client() for _ in range(3)]
    with_alice = await make_friends(bob, alice)
    with_carol = await make_friends(bob, carol)
    group = await make_group(bob, [alice, carol], befriend=False)
    gid = int(group["id"])
    text = await alice.send_text("meet at the station", conversation_id=with_alice)
    upload = await upload_file(alice, "map.txt", b"north exit")
    attached = await alice.send(
        "file", {"url": upload["url"], "name": "map.txt", "size": 1}, conversation_id=with_alice
    )
    for _ in range(2):
        await bob.next_message()

    body = {
        "client_msg_id": "fw1",
        "message_ids": [attached["message_id"], text["message_id"]],
        "conversation_ids": [with_carol, gid],
    }
    out = await bob.request("POST", "/messages/forward", json=body)
    assert [r["conversation_id"] for r in out["results"]] == [with_carol, gid]
    assert all(r["error"] is None and len(r["acks"]) == 2 for r in out["results"])

    got = [await carol.next_message() for _ in range(4)]
    private = [m for m in got if m["conversation_id"] == with_carol]
    assert [m["kind"] for m in private] == ["text", "file"]  # in the originals' order
    assert private[0]["body"] == {"text": "meet at the station"}
    assert private[0]["sender_id"] == bob.user_id
    assert private[0]["forwarded_from"] == {"sender_id": alice.user_id, "ts": text["ts"]}
    assert private[1]["body"]["url"] == upload["url"]
    assert private[1]["body"]["size"] == len(b"north exit")  # from the upload, not the sender

    # A retry stores nothing twice.
    again = await bob.request("POST", "/messages/forward", json=body)
    assert [a["message_id"] for a in again["results"][0]["acks"]] == [
        a["message_id"] for a in out["results"][0]["acks"]
    ]
    page = await carol.request("GET", f"/conversations/{with_carol}/messages")
    assert len(page["messages"]) == 2
    assert page["messages"][0]["forwarded_from"]["sender_id"] == alice.user_id


async def test_forwarding_refusals(make_client: MakeClient) -> None:
    alice, bob, carol = [await make_client() for _ in range(3)]
    with_alice = await make_friends(bob, alice)
    with_carol = await make_friends(bob, carol)
    theirs = await alice.send_text("between alice and carol", to_user_id=bob.user_id)
    await bob.next_message()
    outsider = await make_client()

    async def code(client: PigeonClient, body: dict[str, Any]) -> tuple[int, str]:
        with pytest.raises(ApiError) as caught:
            await client.request("POST", "/messages/forward", json=body)
        return caught.value.status, caught.value.code

    ok: dict[str, Any] = {"client_msg_id": "f", "message_ids": [theirs["message_id"]]}
    # The forwarder must see the original.
    assert await code(outsider, {**ok, "conversation_ids": [with_carol]}) == (403, "not_member")
    for bad in (
        {**ok, "conversation_ids": []},
        {**ok, "message_ids": [], "conversation_ids": [with_carol]},
        {**ok, "client_msg_id": "x" * 25, "conversation_ids": [with_carol]},
    ):
        assert await code(bob, bad) == (422, "invalid_request")
    # A target that refuses is reported per target; the others get their copies.
    await carol.request("POST", f"/blocks/{bob.user_id}")
    out = await bob.request(
        "POST", "/messages/forward", json={**ok, "conversation_ids": [with_carol, with_alice]}
    )
    assert out["results"][0]["error"]["code"] == "blocked"
    assert out["results"][0]["acks"] == []
    assert out["results"][1]["error"] is None
    await alice.request("POST", f"/messages/{theirs['message_id']}/recall")
    assert await code(bob, {**ok, "conversation_ids": [with_alice]}) == (422, "not_editable")


async def test_location_and_contact_cards(make_client: MakeClient) -> None:
    alice, bob = await make_client(), await make_client()
    cid = await make_friends(alice, bob)
    await alice.request("PATCH", "/users/me", json={"nickname": "Alice A."})

    place = {"latitude": 35.6812, "longitude": 139.7671, "label": "東京駅"}
    await alice.send("location", place, conversation_id=cid)
    got = await bob.next_message()
    assert (got["kind"], got["body"]) == ("location", {**place, "address": ""})

    # The card is filled in by the server, whatever the sender adds.
    await bob.send("contact", {"user_id": alice.user_id}, conversation_id=cid)
    card = await alice.next_message()
    assert card["body"] == {
        "user_id": alice.user_id,
        "username": alice.user["username"],
        "nickname": "Alice A.",
        "avatar_url": "",
    }
    reply = await alice.send_text("that's me", conversation_id=cid, reply_to=card["id"])
    assert reply["seq"] == card["seq"] + 1
    quoted = await bob.next_message()
    assert quoted["reply_to"]["snippet"] == "Alice A."

    for kind, body in (
        ("location", {"latitude": 91, "longitude": 0}),
        ("location", {"latitude": 0}),
        ("location", {"latitude": "NaN", "longitude": 0}),
        ("contact", {"user_id": alice.user_id, "nickname": "spoofed"}),
        ("contact", {"user_id": 0}),
    ):
        with pytest.raises(ApiError) as caught:
            await alice.request(
                "POST",
                f"/conversations/{cid}/messages",
                json={"client_msg_id": f"{kind}{body}"[:60], "kind": kind, "body": body},
            )
        assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    with pytest.raises(ApiError) as caught:
        await alice.request(
            "POST",
            f"/conversations/{cid}/messages",
            json={"client_msg_id": "c9", "kind": "contact", "body": {"user_id": 999_999_999}},
        )
    assert (caught.value.status, caught.value.code) == (404, "not_found")
