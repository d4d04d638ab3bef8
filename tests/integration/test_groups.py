"""Groups through the SDK against a real server: membership, roles, every refusal, tips,
events, group messages, readers, recall, typing and mentions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_friends, make_group, no_frame, no_message, refused, tip

pytestmark = pytest.mark.asyncio


async def team(make_client: MakeClient, size: int = 3) -> tuple[list[PigeonClient], int]:
    clients = list(await asyncio.gather(*(make_client() for _ in range(size))))
    group = await make_group(clients[0], clients[1:])
    return clients, int(group["id"])


async def no_frame_matching(client: PigeonClient, predicate: Any, wait: float = 0.3) -> bool:
    try:
        await client.wait_for(predicate, timeout=wait)
    except TimeoutError:
        return True
    return False


async def test_create_tells_every_member_and_lists_the_group(make_client: MakeClient) -> None:
    owner, bob, carol = [await make_client() for _ in range(3)]
    await make_friends(owner, bob)
    await make_friends(owner, carol)

    group = await owner.request(
        "POST",
        "/groups",
        json={"name": " Team   Rocket ", "member_ids": [bob.user_id, carol.user_id]},
    )
    assert group["name"] == "Team Rocket"
    assert (group["owner_id"], group["member_count"], group["my_role"]) == (
        owner.user_id,
        3,
        "owner",
    )
    assert group["dissolved"] is False
    for client in (owner, bob, carol):
        data = await expect_event(client, "group_updated", change="group_created")
        assert data["group"]["id"] == group["id"]
        assert sorted(data["user_ids"]) == sorted([bob.user_id, carol.user_id])
        created = await tip(client, "group_created")
        assert (created["conversation_id"], created["seq"]) == (group["id"], 1)
        assert created["body"]["by"] == owner.user_id
        assert data["seq"] == 1

    seen = await bob.request("GET", f"/groups/{group['id']}")
    assert (seen["my_role"], seen["member_count"]) == ("member", 3)
    listing = await carol.request("GET", "/conversations")
    (entry,) = [c for c in listing["conversations"] if c["id"] == group["id"]]
    assert entry["kind"] == "group"
    assert entry["group"]["name"] == "Team Rocket"
    assert entry["last_seq"] == 1
    members = await bob.request("GET", f"/groups/{group['id']}/members")
    roles = {m["user"]["id"]: m["role"] for m in members["members"]}
    assert roles == {owner.user_id: "owner", bob.user_id: "member", carol.user_id: "member"}
    assert members["next"] is None


async def test_create_refusals(make_client: MakeClient) -> None:
    owner = await make_client()
    friend = await make_client()
    stranger = await make_client()
    await make_friends(owner, friend)

    cases = [
        ({"name": "solo", "member_ids": []}, 422, "invalid_request"),
        ({"name": "solo", "member_ids": [owner.user_id]}, 422, "invalid_request"),
        ({"name": "   ", "member_ids": [friend.user_id]}, 422, "invalid_request"),
        ({"name": "x" * 65, "member_ids": [friend.user_id]}, 422, "invalid_request"),
        ({"name": "g", "member_ids": [friend.user_id, stranger.user_id]}, 403, "not_friends"),
        ({"name": "g", "member_ids": [friend.user_id, 999999999]}, 404, "not_found"),
        ({"name": "g", "member_ids": [friend.user_id], "extra": 1}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        error = await refused(owner, "POST", "/groups", json=body)
        assert (error.status, error.code) == (status, code), body
    assert await no_frame(friend, "event")
    assert await no_frame(stranger, "event")


async def test_group_messages_reach_every_member_once_in_order(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)
    owner_phone = await make_client(device="mobile", login_as=owner)
    await tip(owner_phone, "group_created")  # synced on connecting

    acks = [await bob.send_text(f"m{i}", conversation_id=group_id) for i in range(20)]
    assert [a["seq"] for a in acks] == list(range(2, 22))
    for client in (owner, carol, owner_phone):
        got = [await client.next_message() for _ in range(20)]
        assert [m["body"]["text"] for m in got] == [f"m{i}" for i in range(20)]
        assert [m["seq"] for m in got] == list(range(2, 22))
    own = await no_frame_matching(
        bob, lambda f: f["type"] == "message" and f["message"]["sender_id"] == bob.user_id
    )
    assert own, "the sender's own socket gets acks, not its messages"

    again = await bob.send_text(
        "m0", conversation_id=group_id, client_msg_id=acks[0]["client_msg_id"]
    )
    assert (again["message_id"], again["seq"]) == (acks[0]["message_id"], acks[0]["seq"])
    assert await no_message(carol)
    history = await carol.request("GET", f"/conversations/{group_id}/messages", params={"after": 1})
    assert [m["seq"] for m in history["messages"]] == list(range(2, 22))


async def test_offline_member_syncs_group_messages(make_client: MakeClient) -> None:
    (owner, bob), group_id = await team(make_client, 2)
    await bob.disconnect()
    for i in range(30):
        await owner.send_text(f"while away {i}", conversation_id=group_id)
    await bob.connect()
    got = [await bob.next_message() for _ in range(30)]
    assert [m["body"]["text"] for m in got] == [f"while away {i}" for i in range(30)]
    (entry,) = [
        c
        for c in (await bob.request("GET", "/conversations"))["conversations"]
        if c["id"] == group_id
    ]
    assert (entry["last_seq"], entry["unread"]) == (31, 31)


async def test_only_members_read_or_send(make_client: MakeClient) -> None:
    (owner, _bob), group_id = await team(make_client, 2)
    outsider = await make_client()
    await make_friends(owner, outsider)  # a friend of the owner, but not in the group

    with pytest.raises(ApiError) as caught:
        await outsider.send_text("let me in", conversation_id=group_id)
    assert caught.value.code == "not_member"
    for method, path, body in (
        (
            "POST",
            f"/conversations/{group_id}/messages",
            {"client_msg_id": "o1", "body": {"text": "x"}},
        ),
        ("GET", f"/conversations/{group_id}/messages", None),
        ("GET", f"/conversations/{group_id}", None),
        ("GET", f"/groups/{group_id}", None),
        ("GET", f"/groups/{group_id}/members", None),
        ("GET", f"/conversations/{group_id}/messages/1/readers", None),
        ("PATCH", f"/groups/{group_id}", {"name": "mine"}),
        ("POST", f"/groups/{group_id}/members", {"user_ids": [outsider.user_id]}),
        ("POST", f"/groups/{group_id}/quit", None),
        ("POST", f"/groups/{group_id}/dissolve", None),
        ("PATCH", f"/groups/{group_id}/me", {"alias": "spy"}),
        ("POST", f"/conversations/{group_id}/read", {"seq": 1}),
    ):
        error = await refused(outsider, method, path, json=body)
        assert (error.status, error.code) == (403, "not_member"), path
    error = await refused(outsider, "GET", "/groups/987654321")
    assert (error.status, error.code) == (403, "not_member")
    await outsider.send_frame({"type": "sync", "conversation_id": group_id, "after": 0})
    error_frame = await outsider.wait_for(lambda f: f["type"] == "error", timeout=5)
    assert error_frame["code"] == "not_member"
    assert await no_message(outsider)


async def test_rename_notice_avatar_by_managers_only(make_client: MakeClient) -> None:
    (owner, admin, member), group_id = await team(make_client)
    await owner.request("POST", f"/groups/{group_id}/admins/{admin.user_id}")
    for client in (owner, admin, member):
        await tip(client, "admin_added")
        await expect_event(client, "group_updated", change="admin_added")

    error = await refused(member, "PATCH", f"/groups/{group_id}", json={"name": "mine"})
    assert (error.status, error.code) == (403, "not_admin")

    updated = await admin.request(
        "PATCH",
        f"/groups/{group_id}",
        json={"name": "Renamed", "notice": "Be nice", "avatar_url": "https://img/a.png"},
    )
    assert (updated["name"], updated["notice"], updated["avatar_url"]) == (
        "Renamed",
        "Be nice",
        "https://img/a.png",
    )
    assert updated["my_role"] == "admin"
    for client in (owner, admin, member):
        renamed = await tip(client, "group_renamed")
        assert renamed["body"]["name"] == "Renamed"
        assert (await tip(client, "notice_changed"))["body"]["notice"] == "Be nice"
        await tip(client, "avatar_changed")
        for change in ("group_renamed", "notice_changed", "avatar_changed"):
            data = await expect_event(client, "group_updated", change=change)
            assert data["group"]["name"] == "Renamed"
            assert data["by"] == admin.user_id

    same = await owner.request("PATCH", f"/groups/{group_id}", json={"name": "Renamed"})
    assert same["name"] == "Renamed"
    assert await no_frame(member, "event")  # nothing changed, nothing announced
    error = await refused(owner, "PATCH", f"/groups/{group_id}", json={"notice": "x" * 2001})
    assert (error.status, error.code) == (422, "invalid_request")


async def test_invite_and_history_from_joining(make_client: MakeClient) -> None:
    (owner, bob), group_id = await team(make_client, 2)
    newcomer = await make_client()
    stranger = await make_client()
    await make_friends(owner, newcomer)
    await owner.send_text("before you came", conversation_id=group_id)
    await bob.next_message()

    error = await refused(
        bob, "POST", f"/groups/{group_id}/members", json={"user_ids": [newcomer.user_id]}
    )
    assert (error.status, error.code) == (403, "not_admin")
    error = await refused(
        owner, "POST", f"/groups/{group_id}/members", json={"user_ids": [stranger.user_id]}
    )
    assert (error.status, error.code) == (403, "not_friends")

    group = await owner.request(
        "POST", f"/groups/{group_id}/members", json={"user_ids": [newcomer.user_id, bob.user_id]}
    )
    assert group["member_count"] == 3
    for client in (owner, bob, newcomer):
        data = await expect_event(client, "group_updated", change="member_joined")
        assert data["user_ids"] == [newcomer.user_id]
        joined = await tip(client, "member_joined")
        assert joined["seq"] == 3
    assert await no_frame(stranger, "event")

    history = await newcomer.request("GET", f"/conversations/{group_id}/messages")
    assert [m["seq"] for m in history["messages"]] == [3]
    older = await newcomer.request(
        "GET", f"/conversations/{group_id}/messages", params={"before": 3}
    )
    assert older["messages"] == []
    ack = await bob.send_text("welcome", conversation_id=group_id)
    assert (await newcomer.next_message())["seq"] == ack["seq"]
    error = await refused(newcomer, "GET", f"/conversations/{group_id}/messages/2/readers")
    assert (error.status, error.code) == (404, "not_found")

    unchanged = await owner.request(
        "POST", f"/groups/{group_id}/members", json={"user_ids": [bob.user_id]}
    )
    assert unchanged["member_count"] == 3
    assert await no_frame(bob, "event")


async def test_kick_rules_and_the_kicked_lose_access(make_client: MakeClient) -> None:
    (owner, admin, admin2, member, member2), group_id = await team(make_client, 5)
    for target in (admin, admin2):
        await owner.request("POST", f"/groups/{group_id}/admins/{target.user_id}")
    for client in (owner, admin, admin2, member, member2):
        for _ in range(2):
            await tip(client, "admin_added")
            await expect_event(client, "group_updated", change="admin_added")

    cases = [
        (member, member2, 403, "not_admin"),
        (member, owner, 403, "not_admin"),
        (admin, admin2, 403, "forbidden"),
        (admin, owner, 403, "forbidden"),
        (admin, admin, 422, "invalid_request"),
        (owner, owner, 422, "invalid_request"),
    ]
    for actor, target, status, code in cases:
        error = await refused(actor, "DELETE", f"/groups/{group_id}/members/{target.user_id}")
        assert (error.status, error.code) == (status, code)
    outsider = await make_client()
    error = await refused(owner, "DELETE", f"/groups/{group_id}/members/{outsider.user_id}")
    assert (error.status, error.code) == (404, "not_found")

    await admin.request("DELETE", f"/groups/{group_id}/members/{member.user_id}")
    data = await expect_event(member, "group_updated", change="member_kicked")
    assert (data["user_ids"], data["by"]) == ([member.user_id], admin.user_id)
    assert await no_message(member)  # the tip is for those who stay
    for client in (owner, admin, admin2, member2):
        kicked = await tip(client, "member_kicked")
        assert kicked["body"]["user_ids"] == [member.user_id]
        await expect_event(client, "group_updated", change="member_kicked")
    with pytest.raises(ApiError) as caught:
        await member.send_text("hey", conversation_id=group_id)
    assert caught.value.code == "not_member"
    error = await refused(member, "GET", f"/conversations/{group_id}/messages")
    assert (error.status, error.code) == (403, "not_member")
    assert group_id not in [
        c["id"] for c in (await member.request("GET", "/conversations"))["conversations"]
    ]

    await owner.request("DELETE", f"/groups/{group_id}/members/{admin2.user_id}")
    await expect_event(admin2, "group_updated", change="member_kicked", user_ids=[admin2.user_id])
    assert (await owner.request("GET", f"/groups/{group_id}"))["member_count"] == 3
    await owner.send_text("after", conversation_id=group_id)
    assert (await member2.next_message())["body"]["event"] == "member_kicked"
    assert (await member2.next_message())["body"]["text"] == "after"
    assert await no_message(member)
    assert await no_message(admin2)


async def test_quit(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)

    error = await refused(owner, "POST", f"/groups/{group_id}/quit")
    assert (error.status, error.code) == (403, "forbidden")

    await bob.request("POST", f"/groups/{group_id}/quit")
    assert (await expect_event(bob, "group_updated", change="member_left"))["user_ids"] == [
        bob.user_id
    ]
    for client in (owner, carol):
        left = await tip(client, "member_left")
        assert left["body"]["user_ids"] == [bob.user_id]
        await expect_event(client, "group_updated", change="member_left")
    error = await refused(bob, "GET", f"/groups/{group_id}")
    assert (error.status, error.code) == (403, "not_member")
    error = await refused(bob, "POST", f"/groups/{group_id}/quit")
    assert (error.status, error.code) == (403, "not_member")
    members = await owner.request("GET", f"/groups/{group_id}/members")
    assert sorted(m["user"]["id"] for m in members["members"]) == sorted(
        [owner.user_id, carol.user_id]
    )


async def test_transfer_ownership(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)
    outsider = await make_client()

    error = await refused(
        bob, "POST", f"/groups/{group_id}/transfer", json={"user_id": carol.user_id}
    )
    assert (error.status, error.code) == (403, "not_owner")
    error = await refused(
        owner, "POST", f"/groups/{group_id}/transfer", json={"user_id": outsider.user_id}
    )
    assert (error.status, error.code) == (404, "not_found")
    error = await refused(
        owner, "POST", f"/groups/{group_id}/transfer", json={"user_id": owner.user_id}
    )
    assert (error.status, error.code) == (422, "invalid_request")

    group = await owner.request(
        "POST", f"/groups/{group_id}/transfer", json={"user_id": bob.user_id}
    )
    assert (group["owner_id"], group["my_role"]) == (bob.user_id, "member")
    for client in (owner, bob, carol):
        moved = await tip(client, "owner_transferred")
        assert moved["body"]["user_ids"] == [bob.user_id]
        data = await expect_event(client, "group_updated", change="owner_transferred")
        assert data["group"]["owner_id"] == bob.user_id
    assert (await bob.request("GET", f"/groups/{group_id}"))["my_role"] == "owner"
    error = await refused(owner, "POST", f"/groups/{group_id}/admins/{carol.user_id}")
    assert (error.status, error.code) == (403, "not_owner")
    error = await refused(owner, "POST", f"/groups/{group_id}/dissolve")
    assert (error.status, error.code) == (403, "not_owner")
    await owner.request("POST", f"/groups/{group_id}/quit")  # no longer the owner: may leave


async def test_admins_are_set_by_the_owner_only(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)

    error = await refused(bob, "POST", f"/groups/{group_id}/admins/{carol.user_id}")
    assert (error.status, error.code) == (403, "not_owner")
    error = await refused(owner, "DELETE", f"/groups/{group_id}/admins/{bob.user_id}")
    assert (error.status, error.code) == (404, "not_found")

    await owner.request("POST", f"/groups/{group_id}/admins/{bob.user_id}")
    for client in (owner, bob, carol):
        await tip(client, "admin_added")
        data = await expect_event(client, "group_updated", change="admin_added")
        assert data["user_ids"] == [bob.user_id]
    await owner.request("POST", f"/groups/{group_id}/admins/{bob.user_id}")  # already: no-op
    assert await no_frame(carol, "event")
    error = await refused(bob, "POST", f"/groups/{group_id}/admins/{carol.user_id}")
    assert (error.status, error.code) == (403, "not_owner")
    error = await refused(bob, "DELETE", f"/groups/{group_id}/admins/{bob.user_id}")
    assert (error.status, error.code) == (403, "not_owner")

    await owner.request("DELETE", f"/groups/{group_id}/admins/{bob.user_id}")
    for client in (owner, bob, carol):
        await tip(client, "admin_removed")
        await expect_event(client, "group_updated", change="admin_removed")
    error = await refused(bob, "PATCH", f"/groups/{group_id}", json={"notice": "mine"})
    assert (error.status, error.code) == (403, "not_admin")


async def test_dissolve(make_client: MakeClient) -> None:
    (owner, admin, member), group_id = await team(make_client)
    await owner.send_text("last words", conversation_id=group_id)
    await owner.request("POST", f"/groups/{group_id}/admins/{admin.user_id}")
    for client in (admin, member):
        assert (await client.next_message())["body"]["text"] == "last words"
    for client in (owner, admin, member):
        await tip(client, "admin_added")

    for client in (admin, member):
        error = await refused(client, "POST", f"/groups/{group_id}/dissolve")
        assert (error.status, error.code) == (403, "not_owner")

    await owner.request("POST", f"/groups/{group_id}/dissolve")
    for client in (owner, admin, member):
        await tip(client, "group_dissolved")
        data = await expect_event(client, "group_updated", change="group_dissolved")
        assert data["group"]["dissolved"] is True

    with pytest.raises(ApiError) as caught:
        await member.send_text("anyone?", conversation_id=group_id)
    assert caught.value.code == "group_dissolved"
    error = await refused(
        member,
        "POST",
        f"/conversations/{group_id}/messages",
        json={"client_msg_id": "late", "body": {"text": "x"}},
    )
    assert (error.status, error.code) == (410, "group_dissolved")
    for method, path, body in (
        ("PATCH", f"/groups/{group_id}", {"name": "back"}),
        ("POST", f"/groups/{group_id}/dissolve", None),
        ("POST", f"/groups/{group_id}/admins/{member.user_id}", None),
        ("DELETE", f"/groups/{group_id}/members/{member.user_id}", None),
    ):
        error = await refused(owner, method, path, json=body)
        assert (error.status, error.code) == (410, "group_dissolved"), path
    history = await member.request("GET", f"/conversations/{group_id}/messages")
    assert [m["body"].get("text") for m in history["messages"]][1] == "last words"
    assert (await member.request("GET", f"/groups/{group_id}"))["dissolved"] is True

    await member.request("POST", f"/groups/{group_id}/quit")  # leaving quietly is allowed
    assert await no_message(admin)
    await owner.request("POST", f"/groups/{group_id}/quit")


async def test_member_list_is_paged_by_user_id(make_client: MakeClient) -> None:
    owner = await make_client()
    members = [await make_client(connect=False) for _ in range(6)]
    group = await make_group(owner, members)
    expected = sorted([owner.user_id, *(m.user_id for m in members)])

    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        page = await members[0].request(
            "GET", f"/groups/{group['id']}/members", params={"after_user_id": after, "limit": 3}
        )
        seen += [m["user"]["id"] for m in page["members"]]
        pages += 1
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == expected
    assert pages == 3
    error = await refused(owner, "GET", f"/groups/{group['id']}/members", params={"limit": 501})
    assert (error.status, error.code) == (422, "invalid_request")


async def test_alias_is_shown_in_the_member_list(make_client: MakeClient) -> None:
    (owner, bob), group_id = await team(make_client, 2)

    me = await bob.request("PATCH", f"/groups/{group_id}/me", json={"alias": "  The   Builder "})
    assert (me["alias"], me["role"]) == ("The Builder", "member")
    for client in (owner, bob):
        data = await expect_event(client, "group_updated", change="alias_changed")
        assert (data["user_ids"], data["seq"]) == ([bob.user_id], None)
    assert await no_message(owner)  # no tip for an alias
    members = await owner.request("GET", f"/groups/{group_id}/members")
    aliases = {m["user"]["id"]: m["alias"] for m in members["members"]}
    assert aliases == {owner.user_id: "", bob.user_id: "The Builder"}
    error = await refused(bob, "PATCH", f"/groups/{group_id}/me", json={"alias": "x" * 65})
    assert (error.status, error.code) == (422, "invalid_request")


def is_receipt_from(user_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame["type"] == "read" and frame["user_id"] == user_id


async def test_read_receipts_and_unread_counts(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)
    bob_phone = await make_client(device="mobile", login_as=bob)
    acks = [await owner.send_text(f"r{i}", conversation_id=group_id) for i in range(3)]
    for client in (bob, carol):
        for _ in range(3):
            await client.next_message()
    seq = acks[1]["seq"]

    readers = await owner.request("GET", f"/conversations/{group_id}/messages/{seq}/readers")
    assert readers == {"read_count": 0, "readers": []}
    unread = {
        c["id"]: c["unread"] for c in (await bob.request("GET", "/conversations"))["conversations"]
    }
    assert unread[group_id] == 4  # the created tip and three messages

    await bob.mark_read(group_id, seq)
    receipt = await bob_phone.wait_for(lambda f: f["type"] == "read", timeout=5)
    assert (receipt["conversation_id"], receipt["user_id"], receipt["seq"]) == (
        group_id,
        bob.user_id,
        seq,
    )
    readers = await owner.request("GET", f"/conversations/{group_id}/messages/{seq}/readers")
    assert readers == {"read_count": 1, "readers": [bob.user_id]}
    await carol.request("POST", f"/conversations/{group_id}/read", json={"seq": acks[2]["seq"]})
    readers = await bob.request("GET", f"/conversations/{group_id}/messages/{seq}/readers")
    assert readers == {"read_count": 2, "readers": sorted([bob.user_id, carol.user_id])}
    later = await owner.request(
        "GET", f"/conversations/{group_id}/messages/{acks[2]['seq']}/readers"
    )
    assert later["readers"] == [carol.user_id]
    # Group receipts go to the reader's devices and the senders of what was read, no one else.
    for reader, upto in ((bob.user_id, seq), (carol.user_id, acks[2]["seq"])):
        receipt = await owner.wait_for(is_receipt_from(reader), timeout=5)
        assert receipt["seq"] == upto
    assert await no_frame(carol, "read", user_id=bob.user_id)

    unread = {
        c["id"]: c["unread"] for c in (await bob.request("GET", "/conversations"))["conversations"]
    }
    assert unread[group_id] == 1
    error = await refused(owner, "GET", f"/conversations/{group_id}/messages/999/readers")
    assert (error.status, error.code) == (404, "not_found")


async def test_recall_in_a_group(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)
    await carol.disconnect()
    mine = await bob.send_text("oops", conversation_id=group_id)
    other = await owner.send_text("owner's", conversation_id=group_id)
    await owner.next_message()
    await bob.next_message()

    await bob.send_frame({"type": "recall", "message_id": other["message_id"]})
    assert (await bob.wait_for(lambda f: f["type"] == "error", timeout=5))["code"] == "forbidden"
    recall = await bob.request("POST", f"/messages/{mine['message_id']}/recall")
    assert recall["seq"] == other["seq"] + 1
    for client in (owner, bob):
        got = await client.next_message()
        assert got["kind"] == "recall"
        assert got["body"] == {
            "message_id": mine["message_id"],
            "seq": mine["seq"],
            "by": bob.user_id,
        }

    # The owner (and admins) may recall anyone's message at any time.
    third = await bob.send_text("another", conversation_id=group_id)
    await owner.next_message()
    await owner.request("POST", f"/messages/{third['message_id']}/recall")
    assert (await bob.next_message())["body"]["by"] == owner.user_id

    await carol.connect()
    synced = [await carol.next_message() for _ in range(5)]
    assert [m["kind"] for m in synced] == ["text", "text", "recall", "text", "recall"]
    assert [m["recalled"] for m in synced] == [True, False, False, True, False]
    assert synced[0]["body"] == {}
    assert synced[1]["body"]["text"] == "owner's"
    error = await refused(bob, "POST", f"/messages/{mine['message_id']}/recall")
    assert (error.status, error.code) == (422, "invalid_request")


async def test_typing_in_a_group(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)
    outsider = await make_client()

    await bob.send_frame({"type": "typing", "conversation_id": group_id})
    for client in (owner, carol):
        frame = await client.wait_for(lambda f: f["type"] == "typing", timeout=5)
        assert (frame["conversation_id"], frame["user_id"]) == (group_id, bob.user_id)
    assert await no_frame(bob, "typing")

    await outsider.send_frame({"type": "typing", "conversation_id": group_id})
    error = await outsider.wait_for(lambda f: f["type"] == "error", timeout=5)
    assert error["code"] == "not_member"
    assert await no_frame(owner, "typing")


async def test_mentions_are_flagged_and_counted(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client)
    outsider = await make_client()

    await bob.send_text(
        "@carol look", conversation_id=group_id, mentions=[carol.user_id, outsider.user_id]
    )
    got = await carol.next_message()
    assert (got["mentions"], got["mention_all"]) == ([carol.user_id], False)
    await owner.next_message()

    def mentioned(listing: dict[str, Any]) -> bool:
        (entry,) = [c for c in listing["conversations"] if c["id"] == group_id]
        return bool(entry["mentioned"])

    assert mentioned(await carol.request("GET", "/conversations")) is True
    assert mentioned(await owner.request("GET", "/conversations")) is False
    await carol.request("POST", f"/conversations/{group_id}/read", json={"seq": got["seq"]})
    assert mentioned(await carol.request("GET", "/conversations")) is False

    with pytest.raises(ApiError) as caught:
        await bob.send_text("@all hi", conversation_id=group_id, mention_all=True)
    assert caught.value.code == "forbidden"
    everyone = await owner.send_text("@all meeting", conversation_id=group_id, mention_all=True)
    for client in (bob, carol):
        message = await client.next_message()
        assert (message["seq"], message["mention_all"]) == (everyone["seq"], True)
        assert mentioned(await client.request("GET", "/conversations")) is True
    assert mentioned(await owner.request("GET", "/conversations")) is False


async def test_pulls_answered_from_recent_messages_show_a_later_recall(
    make_client: MakeClient,
) -> None:
    # Members' pulls of a group are served from the process's run of recent messages:
    # a recall after the run took the original in must still show.
    (owner, bob, carol), group_id = await team(make_client)
    sent = [await owner.send_text(f"m{i}", conversation_id=group_id) for i in range(3)]
    path = f"/conversations/{group_id}/messages"
    first_seq = sent[0]["seq"]
    before = await bob.request("GET", path, params={"after": first_seq - 1})
    assert [m["body"] for m in before["messages"]] == [{"text": f"m{i}"} for i in range(3)]
    await owner.request("POST", f"/messages/{sent[1]['message_id']}/recall")
    for reader in (bob, carol):
        after = await reader.request("GET", path, params={"after": first_seq - 1})
        got = [(m["kind"], m["recalled"], m["body"].get("text")) for m in after["messages"]]
        assert got == [
            ("text", False, "m0"),
            ("text", True, None),
            ("text", False, "m2"),
            ("recall", False, None),
        ]


async def test_a_group_read_reaches_the_senders_of_what_was_read(make_client: MakeClient) -> None:
    owner = await make_client()
    bob = await make_client()
    carol = await make_client()
    group = await make_group(owner, [bob, carol])
    group_id = group["id"]
    ack = await owner.send("text", {"text": "read me"}, conversation_id=group_id)
    for member in (bob, carol):
        await member.next_message()
    await bob.mark_read(group_id, ack["seq"])
    receipt = await owner.wait_for(
        lambda f: f.get("type") == "read" and f.get("user_id") == bob.user_id, timeout=5
    )
    assert (receipt["conversation_id"], receipt["seq"]) == (group_id, ack["seq"])
    readers = await owner.request("GET", f"/conversations/{group_id}/messages/{ack['seq']}/readers")
    assert readers == {"read_count": 1, "readers": [bob.user_id]}
    # carol sent nothing that bob read: she hears nothing of it
    assert await no_frame(carol, "read", wait=0.5, user_id=bob.user_id)
