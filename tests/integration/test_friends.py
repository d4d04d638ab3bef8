"""Friends through the SDK against a real server: requests, removal, remarks, blocks, and
the events each of them sends to whom."""

from __future__ import annotations

import pytest

from pigeon.client import ApiError
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_friends, no_frame, no_message, refused

pytestmark = pytest.mark.asyncio


async def test_request_and_accept_reach_both_sides_and_open_the_conversation(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    bob = await make_client()

    request = await alice.request(
        "POST", "/friends/requests", json={"user_id": bob.user_id, "note": "hi, it's Alice"}
    )
    assert request["status"] == "pending"
    assert request["note"] == "hi, it's Alice"
    assert request["from_user"]["id"] == alice.user_id
    assert request["to_user"]["id"] == bob.user_id
    for client in (alice, bob):
        data = await expect_event(client, "friend_request")
        assert data["request"]["id"] == request["id"]

    listed = await bob.request("GET", "/friends/requests")
    assert [r["id"] for r in listed["incoming"]] == [request["id"]]
    assert listed["outgoing"] == []
    assert [r["id"] for r in (await alice.request("GET", "/friends/requests"))["outgoing"]] == [
        request["id"]
    ]

    accepted = await bob.request("POST", f"/friends/requests/{request['id']}/accept")
    assert accepted["status"] == "accepted"
    conversation_ids = set()
    for client in (alice, bob):
        data = await expect_event(client, "friend_request_accepted")
        assert data["request"]["status"] == "accepted"
        conversation_ids.add(data["conversation_id"])
    (conversation_id,) = conversation_ids

    for me, other in ((alice, bob), (bob, alice)):
        friends = (await me.request("GET", "/friends"))["friends"]
        assert [f["user"]["id"] for f in friends] == [other.user_id]
        assert friends[0]["online"] is True
        assert friends[0]["devices"] == ["web"]
        listing = await me.request("GET", "/conversations")
        assert conversation_id in [c["id"] for c in listing["conversations"]]

    ack = await alice.send_text("now we can talk", conversation_id=conversation_id)
    got = await bob.next_message()
    assert (got["seq"], got["body"]["text"]) == (ack["seq"], "now we can talk")


async def test_friend_list_shows_offline_friends_and_every_device(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    bob = await make_client(connect=False)
    await make_friends(alice, bob)

    (entry,) = (await alice.request("GET", "/friends"))["friends"]
    assert (entry["online"], entry["devices"]) == (False, [])

    await make_client(device="mobile", login_as=bob)
    await make_client(device="desktop", login_as=bob)
    (entry,) = (await alice.request("GET", "/friends"))["friends"]
    assert (entry["online"], entry["devices"]) == (True, ["desktop", "mobile"])


async def test_private_messages_need_friendship(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()

    with pytest.raises(ApiError) as over_ws:
        await alice.send_text("hi stranger", to_user_id=bob.user_id)
    assert over_ws.value.code == "not_friends"
    error = await refused(
        alice,
        "POST",
        "/messages/private",
        json={"to_user_id": bob.user_id, "client_msg_id": "x1", "body": {"text": "hi"}},
    )
    assert (error.status, error.code) == (403, "not_friends")
    error = await refused(alice, "POST", "/conversations/private", json={"user_id": bob.user_id})
    assert (error.status, error.code) == (403, "not_friends")
    assert await no_message(bob)


async def test_decline_and_cancel_reach_both_sides(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()

    first = await alice.request("POST", "/friends/requests", json={"user_id": bob.user_id})
    declined = await bob.request("POST", f"/friends/requests/{first['id']}/decline")
    assert declined["status"] == "declined"
    for client in (alice, bob):
        await expect_event(client, "friend_request")
        data = await expect_event(client, "friend_request_declined")
        assert data["request"]["id"] == first["id"]
    error = await refused(bob, "POST", f"/friends/requests/{first['id']}/accept")
    assert (error.status, error.code) == (409, "request_not_pending")

    second = await alice.request("POST", "/friends/requests", json={"user_id": bob.user_id})
    assert second["id"] != first["id"]
    cancelled = await alice.request("POST", f"/friends/requests/{second['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    for client in (alice, bob):
        await expect_event(client, "friend_request")
        data = await expect_event(client, "friend_request_cancelled")
        assert data["request"]["id"] == second["id"]
    assert (await alice.request("GET", "/friends"))["friends"] == []


async def test_who_may_answer_a_request(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    carol = await make_client()
    request = await alice.request("POST", "/friends/requests", json={"user_id": bob.user_id})
    path = f"/friends/requests/{request['id']}"

    error = await refused(alice, "POST", f"{path}/accept")
    assert (error.status, error.code) == (403, "forbidden")
    error = await refused(alice, "POST", f"{path}/decline")
    assert (error.status, error.code) == (403, "forbidden")
    error = await refused(bob, "POST", f"{path}/cancel")
    assert (error.status, error.code) == (403, "forbidden")
    for action in ("accept", "decline", "cancel"):
        error = await refused(carol, "POST", f"{path}/{action}")
        assert (error.status, error.code) == (404, "not_found")
    error = await refused(bob, "POST", "/friends/requests/999999999/accept")
    assert (error.status, error.code) == (404, "not_found")
    assert await no_frame(carol, "event")


async def test_bad_requests_are_refused(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()

    error = await refused(alice, "POST", "/friends/requests", json={"user_id": alice.user_id})
    assert (error.status, error.code) == (422, "invalid_request")
    error = await refused(alice, "POST", "/friends/requests", json={"user_id": 999999999})
    assert (error.status, error.code) == (404, "not_found")
    error = await refused(
        alice, "POST", "/friends/requests", json={"user_id": bob.user_id, "note": "x" * 257}
    )
    assert (error.status, error.code) == (422, "invalid_request")

    await make_friends(alice, bob)
    error = await refused(alice, "POST", "/friends/requests", json={"user_id": bob.user_id})
    assert (error.status, error.code) == (409, "already_friends")


async def test_repeated_request_is_the_same_and_crossed_requests_befriend(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    bob = await make_client()

    first = await alice.request("POST", "/friends/requests", json={"user_id": bob.user_id})
    again = await alice.request("POST", "/friends/requests", json={"user_id": bob.user_id})
    assert again["id"] == first["id"]
    await expect_event(bob, "friend_request")
    assert await no_frame(bob, "event")  # the repeat is not announced again

    crossed = await bob.request("POST", "/friends/requests", json={"user_id": alice.user_id})
    assert (crossed["id"], crossed["status"]) == (first["id"], "accepted")
    for client in (alice, bob):
        await expect_event(client, "friend_request_accepted")
    assert [f["user"]["id"] for f in (await bob.request("GET", "/friends"))["friends"]] == [
        alice.user_id
    ]


async def test_removing_a_friend_ends_it_on_both_sides(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    conversation_id = await make_friends(alice, bob)
    await alice.send_text("soon gone", conversation_id=conversation_id)
    await bob.next_message()

    await alice.request("DELETE", f"/friends/{bob.user_id}")
    assert (await expect_event(alice, "friend_removed"))["user_id"] == bob.user_id
    data = await expect_event(bob, "friend_removed")
    assert (data["user_id"], data["by"]) == (alice.user_id, alice.user_id)

    for client in (alice, bob):
        assert (await client.request("GET", "/friends"))["friends"] == []
    with pytest.raises(ApiError) as caught:
        await bob.send_text("still there?", conversation_id=conversation_id)
    assert caught.value.code == "not_friends"
    history = await bob.request("GET", f"/conversations/{conversation_id}/messages")
    assert [m["body"]["text"] for m in history["messages"]] == ["soon gone"]
    error = await refused(alice, "DELETE", f"/friends/{bob.user_id}")
    assert (error.status, error.code) == (404, "not_found")


async def test_remark_is_private_to_the_caller_and_reaches_all_their_devices(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    alice_phone = await make_client(device="mobile", login_as=alice)
    bob = await make_client()
    carol = await make_client()
    await make_friends(alice, bob)

    friend = await alice.request("PATCH", f"/friends/{bob.user_id}", json={"remark": "Bobby"})
    assert (friend["user"]["id"], friend["remark"]) == (bob.user_id, "Bobby")
    for device in (alice, alice_phone):
        data = await expect_event(device, "friend_updated")
        assert data["friend"]["remark"] == "Bobby"
    assert await no_frame(bob, "event")
    (entry,) = (await alice.request("GET", "/friends"))["friends"]
    assert entry["remark"] == "Bobby"
    (entry,) = (await bob.request("GET", "/friends"))["friends"]
    assert entry["remark"] == ""

    error = await refused(alice, "PATCH", f"/friends/{carol.user_id}", json={"remark": "x"})
    assert (error.status, error.code) == (404, "not_found")
    error = await refused(alice, "PATCH", f"/friends/{bob.user_id}", json={"remark": "x" * 65})
    assert (error.status, error.code) == (422, "invalid_request")


async def test_a_blocked_user_cannot_message_request_or_add_you(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    carol = await make_client()
    conversation_id = await make_friends(alice, bob)
    await make_friends(bob, carol)

    await alice.request("POST", f"/blocks/{bob.user_id}")
    assert (await expect_event(alice, "user_blocked"))["user_id"] == bob.user_id
    assert await no_frame(bob, "event")  # the blocked user is not told
    blocks = (await alice.request("GET", "/blocks"))["blocks"]
    assert [b["user"]["id"] for b in blocks] == [bob.user_id]
    await alice.request("POST", f"/blocks/{bob.user_id}")  # again: a no-op
    assert len((await alice.request("GET", "/blocks"))["blocks"]) == 1

    with pytest.raises(ApiError) as caught:
        await bob.send_text("hello?", conversation_id=conversation_id)
    assert caught.value.code == "blocked"
    error = await refused(
        bob,
        "POST",
        "/messages/private",
        json={"to_user_id": alice.user_id, "client_msg_id": "b1", "body": {"text": "hi"}},
    )
    assert (error.status, error.code) == (403, "blocked")
    await alice.request("DELETE", f"/friends/{bob.user_id}")
    error = await refused(bob, "POST", "/friends/requests", json={"user_id": alice.user_id})
    assert (error.status, error.code) == (403, "blocked")
    error = await refused(alice, "POST", "/friends/requests", json={"user_id": bob.user_id})
    assert (error.status, error.code) == (403, "forbidden")
    await make_friends(carol, alice)
    error = await refused(carol, "POST", f"/blocks/{carol.user_id}")
    assert (error.status, error.code) == (422, "invalid_request")
    error = await refused(
        bob, "POST", "/groups", json={"name": "g", "member_ids": [alice.user_id, carol.user_id]}
    )
    assert (error.status, error.code) == (403, "blocked")
    assert await no_message(alice)

    await alice.request("DELETE", f"/blocks/{bob.user_id}")
    assert (await expect_event(alice, "user_unblocked"))["user_id"] == bob.user_id
    assert (await alice.request("GET", "/blocks"))["blocks"] == []
    error = await refused(alice, "DELETE", f"/blocks/{bob.user_id}")
    assert (error.status, error.code) == (404, "not_found")
    await make_friends(bob, alice)
    await bob.send_text("hello again", conversation_id=conversation_id)
    assert (await alice.next_message())["body"]["text"] == "hello again"


async def test_a_friend_who_blocked_you_cannot_be_added_to_a_group(
    make_client: MakeClient,
) -> None:
    alice = await make_client()
    bob = await make_client()
    await make_friends(alice, bob)
    await bob.request("POST", f"/blocks/{alice.user_id}")

    error = await refused(alice, "POST", "/groups", json={"name": "g", "member_ids": [bob.user_id]})
    assert (error.status, error.code) == (403, "blocked")


async def test_friend_endpoints_need_a_token(make_client: MakeClient) -> None:
    anonymous = await make_client(connect=False)
    anonymous.access_token = ""
    anonymous.refresh_token = ""
    for method, path in (("GET", "/friends"), ("GET", "/blocks"), ("GET", "/friends/requests")):
        error = await refused(anonymous, method, path)
        assert (error.status, error.code) == (401, "unauthorized")


async def test_a_blocked_user_typing_is_not_shown(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    conversation_id = await make_friends(alice, bob)
    await alice.request("POST", f"/blocks/{bob.user_id}")
    await expect_event(alice, "user_blocked")
    await bob.send_frame({"type": "typing", "conversation_id": conversation_id})
    assert await no_frame(alice, "typing", wait=0.5)
    await alice.send_frame({"type": "typing", "conversation_id": conversation_id})
    typing = await bob.wait_for(lambda f: f.get("type") == "typing", timeout=5)
    assert typing["user_id"] == alice.user_id  # the blocker's own typing is not refused


async def test_a_new_profile_reaches_friends_and_own_devices(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    stranger = await make_client()
    await make_friends(alice, bob)
    phone = await make_client(device="mobile", login_as=alice)
    updated = await alice.request("PATCH", "/users/me", json={"nickname": "Alice Liddell"})
    assert updated["nickname"] == "Alice Liddell"
    for client in (bob, phone, alice):
        data = await expect_event(client, "user_updated")
        assert data["user"] == updated
    assert await no_frame(stranger, "event", wait=0.3)
    # nothing changed, nothing sent
    await alice.request("PATCH", "/users/me", json={})
    assert await no_frame(bob, "event", wait=0.3)
