"""Delete for me: hidden on all of the member's devices, unchanged for everyone else, and
sync keeps working over the hidden messages."""

from __future__ import annotations

from typing import Any

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_friends

pytestmark = pytest.mark.asyncio


async def test_hidden_for_me_on_every_device_and_not_for_others(
    make_client: MakeClient,
) -> None:
    alice, bob = await make_client(), await make_client()
    cid = await make_friends(alice, bob)
    acks = [await bob.send_text(f"m{i}", conversation_id=cid) for i in range(3)]
    for _ in range(3):
        await alice.next_message()
    phone = await make_client(login_as=alice, device="mobile")
    before = (await alice.request("GET", f"/conversations/{cid}"))["hidden_change"]
    assert before == 0

    out = await alice.request(
        "POST",
        f"/conversations/{cid}/hide",
        json={"message_ids": [acks[1]["message_id"], acks[2]["message_id"]]},
    )
    assert out == {"hidden_change": 1}
    for device in (alice, phone):
        data = await expect_event(device, "messages_hidden", timeout=5)
        assert data == {
            "conversation_id": cid,
            "message_ids": [acks[1]["message_id"], acks[2]["message_id"]],
            "hidden_change": 1,
        }

    # History and pulls keep every seq; the hidden ones are empty for Alice only.
    mine = await phone.request("GET", f"/conversations/{cid}/messages")
    assert [m["seq"] for m in mine["messages"]] == [a["seq"] for a in acks]
    assert [m["hidden"] for m in mine["messages"]] == [False, True, True]
    assert mine["messages"][1]["body"] == {}
    pulled = await alice.request(
        "GET", f"/conversations/{cid}/messages", params={"after": acks[0]["seq"]}
    )
    assert [m["hidden"] for m in pulled["messages"]] == [True, True]
    theirs = await bob.request("GET", f"/conversations/{cid}/messages")
    assert [m["hidden"] for m in theirs["messages"]] == [False, False, False]
    assert theirs["messages"][2]["body"] == {"text": "m2"}
    summary = await alice.request("GET", f"/conversations/{cid}")
    assert summary["hidden_change"] == 1
    assert summary["last_message"]["hidden"]

    # A device that was away catches up from its last hidden_change.
    feed = await alice.request("GET", f"/conversations/{cid}/hidden", params={"after": before})
    assert feed["message_ids"] == [acks[1]["message_id"], acks[2]["message_id"]]
    assert feed["hidden_change"] == 1
    assert not feed["has_more"]
    assert (await alice.request("GET", f"/conversations/{cid}/hidden", params={"after": 1}))[
        "message_ids"
    ] == []

    # Hiding again what is hidden changes nothing but the counter; new messages show.
    again = await alice.request(
        "POST", f"/conversations/{cid}/hide", json={"message_ids": [acks[1]["message_id"]]}
    )
    assert again == {"hidden_change": 2}
    await bob.send_text("after", conversation_id=cid)
    assert (await alice.next_message())["body"] == {"text": "after"}


async def test_hide_refusals(make_client: MakeClient) -> None:
    alice, bob, carol = [await make_client() for _ in range(3)]
    cid = await make_friends(alice, bob)
    elsewhere = await make_friends(alice, carol)
    other = await carol.send_text("hi", conversation_id=elsewhere)
    outsider = await make_client()

    async def code(client: PigeonClient, body: dict[str, Any]) -> tuple[int, str]:
        with pytest.raises(ApiError) as caught:
            await client.request("POST", f"/conversations/{cid}/hide", json=body)
        return caught.value.status, caught.value.code

    assert await code(outsider, {"message_ids": [other["message_id"]]}) == (403, "not_member")
    assert await code(alice, {"message_ids": [other["message_id"]]}) == (404, "not_found")
    assert await code(alice, {"message_ids": []}) == (422, "invalid_request")
    with pytest.raises(ApiError) as caught:
        await outsider.request("GET", f"/conversations/{cid}/hidden")
    assert caught.value.code == "not_member"
