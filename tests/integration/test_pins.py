"""Pinned messages: who may pin, the tips that tell the members, the list, and refusals."""

from __future__ import annotations

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import make_friends, make_group

pytestmark = pytest.mark.asyncio


async def code_of(client: PigeonClient, method: str, path: str) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        await client.request(method, path)
    return caught.value.status, caught.value.code


async def test_either_side_of_a_private_chat_pins_and_both_are_told(
    make_client: MakeClient,
) -> None:
    alice, bob = await make_client(), await make_client()
    cid = await make_friends(alice, bob)
    first = await alice.send_text("the address is 5 Elm St", conversation_id=cid)
    second = await alice.send_text("door code 4321", conversation_id=cid)
    for _ in range(2):
        await bob.next_message()

    tip = await bob.request("POST", f"/messages/{first['message_id']}/pin")
    assert tip["kind"] == "system"
    assert tip["body"]["event"] == "message_pinned"
    assert tip["body"]["message_id"] == first["message_id"]
    told = await alice.next_message()
    assert told["id"] == tip["id"]
    assert "pinned “the address is 5 Elm St”" in told["body"]["tip"]
    await alice.request("POST", f"/messages/{second['message_id']}/pin")
    await bob.next_message()

    pins = (await bob.request("GET", f"/conversations/{cid}/pins"))["pins"]
    assert [p["message"]["id"] for p in pins] == [second["message_id"], first["message_id"]]
    assert [p["pinned_by"] for p in pins] == [alice.user_id, bob.user_id]

    assert await code_of(alice, "POST", f"/messages/{first['message_id']}/pin") == (
        409,
        "conflict",
    )
    untip = await alice.request("DELETE", f"/messages/{first['message_id']}/pin")
    assert untip["body"]["event"] == "message_unpinned"
    await bob.next_message()
    assert await code_of(alice, "DELETE", f"/messages/{first['message_id']}/pin") == (
        409,
        "conflict",
    )
    # A recalled message leaves the pins.
    await alice.request("POST", f"/messages/{second['message_id']}/recall")
    assert (await bob.request("GET", f"/conversations/{cid}/pins"))["pins"] == []
    assert await code_of(bob, "POST", f"/messages/{second['message_id']}/pin") == (
        422,
        "not_editable",
    )


async def test_in_groups_only_the_owner_and_admins_pin(make_client: MakeClient) -> None:
    owner, bob, carol = [await make_client() for _ in range(3)]
    group = await make_group(owner, [bob, carol])
    gid = int(group["id"])
    ack = await carol.send_text("meeting moved to 3pm", conversation_id=gid)
    for client in (owner, bob):
        await client.next_message()
    outsider = await make_client()

    assert await code_of(bob, "POST", f"/messages/{ack['message_id']}/pin") == (403, "not_admin")
    assert await code_of(outsider, "POST", f"/messages/{ack['message_id']}/pin") == (
        403,
        "not_member",
    )
    assert await code_of(outsider, "GET", f"/conversations/{gid}/pins") == (403, "not_member")
    assert await code_of(bob, "POST", "/messages/999999999/pin") == (404, "not_found")

    await owner.request("POST", f"/groups/{gid}/admins/{bob.user_id}")
    for client in (owner, bob, carol):
        await client.next_message()  # the admin tip
    await bob.request("POST", f"/messages/{ack['message_id']}/pin")
    for client in (owner, carol):
        assert (await client.next_message())["body"]["event"] == "message_pinned"
    pins = (await carol.request("GET", f"/conversations/{gid}/pins"))["pins"]
    assert [p["message"]["body"]["text"] for p in pins] == ["meeting moved to 3pm"]
