"""Group administration against a real server: invite links, join requests, member mutes,
mute-all (refused over HTTP and over the socket) and member search."""

from __future__ import annotations

import asyncio

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_friends, make_group, no_frame, refused, tip

pytestmark = pytest.mark.asyncio


async def team(make_client: MakeClient, size: int = 2) -> tuple[list[PigeonClient], int]:
    clients = list(await asyncio.gather(*(make_client() for _ in range(size))))
    group = await make_group(clients[0], clients[1:])
    return clients, int(group["id"])


async def send_refused(client: PigeonClient, group_id: int) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.send_text("may I?", conversation_id=group_id)
    return caught.value


async def test_a_link_joins_with_the_invite_tip_and_from_now_on_history(
    make_client: MakeClient,
) -> None:
    (owner, bob), group_id = await team(make_client)
    await owner.send_text("before carol", conversation_id=group_id)
    await bob.next_message()
    carol = await make_client()

    invite = await owner.create_invite(group_id)
    assert len(invite["token"]) >= 20
    assert (invite["uses"], invite["revoked"], invite["created_by"]) == (0, False, owner.user_id)
    preview = await carol.preview_invite(invite["token"])
    assert preview == {
        "group_id": group_id,
        "name": "team",
        "avatar_url": "",
        "member_count": 2,
        "join_mode": "link",
    }

    joined = await carol.join_by_invite(invite["token"])
    assert joined["status"] == "joined"
    assert (joined["group"]["member_count"], joined["group"]["my_role"]) == (3, "member")
    for client in (owner, bob):
        data = await expect_event(client, "group_updated", change="member_joined")
        assert (data["user_ids"], data["by"]) == ([carol.user_id], carol.user_id)
        joined_tip = await tip(client, "member_joined")
        assert joined_tip["body"]["via"] == "link"
    await expect_event(carol, "group_updated", change="member_joined")
    history = await carol.request("GET", f"/conversations/{group_id}/messages")
    texts = [m["body"].get("text") for m in history["messages"]]
    assert "before carol" not in texts  # newcomers see history from their joining on

    again = await carol.join_by_invite(invite["token"])  # a member: nothing happens
    assert again["group"]["member_count"] == 3
    (listed,) = (await owner.request("GET", f"/groups/{group_id}/invites"))["invites"]
    assert listed["uses"] == 1


async def test_links_that_no_longer_work_say_why(make_client: MakeClient) -> None:
    (owner, bob), group_id = await team(make_client)
    carol, dave, erin = [await make_client(connect=False) for _ in range(3)]

    once = await owner.create_invite(group_id, max_uses=1)
    await carol.join_by_invite(once["token"])
    for call in (dave.preview_invite, dave.join_by_invite):
        with pytest.raises(ApiError) as caught:
            await call(once["token"])
        assert (caught.value.status, caught.value.code) == (410, "invite_used_up")

    revoked = await owner.create_invite(group_id)
    await owner.request("DELETE", f"/groups/{group_id}/invites/{revoked['token']}")
    error = await refused(dave, "POST", f"/invites/{revoked['token']}/join")
    assert (error.status, error.code) == (410, "invite_revoked")

    brief = await owner.create_invite(group_id, expires_in_s=1)
    await asyncio.sleep(1.1)
    error = await refused(dave, "POST", f"/invites/{brief['token']}/join")
    assert (error.status, error.code) == (410, "invite_expired")

    error = await refused(dave, "GET", "/invites/no-such-token")
    assert (error.status, error.code) == (404, "not_found")
    error = await refused(dave, "GET", "/invites/bad%20token")
    assert error.status == 422

    await owner.request("POST", f"/blocks/{erin.user_id}")
    open_link = await owner.create_invite(group_id)
    error = await refused(erin, "POST", f"/invites/{open_link['token']}/join")
    assert (error.status, error.code) == (403, "blocked")

    for method, path, body in (
        ("POST", f"/groups/{group_id}/invites", {}),
        ("GET", f"/groups/{group_id}/invites", None),
        ("DELETE", f"/groups/{group_id}/invites/{open_link['token']}", None),
    ):
        error = await refused(bob, method, path, json=body)
        assert (error.status, error.code) == (403, "not_admin")
    error = await refused(owner, "POST", f"/groups/{group_id}/invites", json={"max_uses": 0})
    assert error.status == 422
    error = await refused(owner, "DELETE", f"/groups/{group_id}/invites/unknown")
    assert (error.status, error.code) == (404, "not_found")

    await owner.request("POST", f"/groups/{group_id}/dissolve")
    error = await refused(dave, "POST", f"/invites/{open_link['token']}/join")
    assert (error.status, error.code) == (410, "group_dissolved")


async def test_approval_groups_take_requests_that_owner_and_admins_answer(
    make_client: MakeClient,
) -> None:
    (owner, bob), group_id = await team(make_client)
    carol, dave = await make_client(), await make_client()
    updated = await owner.request("PATCH", f"/groups/{group_id}", json={"join_mode": "approval"})
    assert updated["join_mode"] == "approval"
    await expect_event(bob, "group_updated", change="join_mode_changed")
    error = await refused(bob, "PATCH", f"/groups/{group_id}", json={"join_mode": "link"})
    assert error.code == "not_admin"
    error = await refused(owner, "PATCH", f"/groups/{group_id}", json={"join_mode": "anyone"})
    assert error.status == 422
    token = (await owner.create_invite(group_id))["token"]

    assert await carol.join_by_invite(token) == {"status": "requested", "group": None}
    requested = await expect_event(owner, "join_requested")
    assert (requested["group_id"], requested["user"]["id"]) == (group_id, carol.user_id)
    assert await no_frame(bob, "event", event="join_requested")
    error = await refused(carol, "POST", f"/invites/{token}/join")
    assert (error.status, error.code) == (409, "join_request_pending")
    error = await refused(carol, "GET", f"/conversations/{group_id}/messages")
    assert error.code == "not_member"

    await dave.join_by_invite(token)
    pending = await owner.request("GET", f"/groups/{group_id}/join-requests")
    assert [r["user"]["id"] for r in pending["requests"]] == [carol.user_id, dave.user_id]
    error = await refused(bob, "GET", f"/groups/{group_id}/join-requests")
    assert error.code == "not_admin"

    await owner.answer_join_request(group_id, carol.user_id, approve=True)
    decided = await expect_event(carol, "join_request_decided")
    assert decided == {"group_id": group_id, "approved": True, "by": owner.user_id}
    await expect_event(bob, "group_updated", change="member_joined")
    assert (await tip(bob, "member_joined"))["body"]["user_ids"] == [carol.user_id]

    await owner.answer_join_request(group_id, dave.user_id, approve=False)
    decided = await expect_event(dave, "join_request_decided")
    assert decided["approved"] is False
    error = await refused(dave, "GET", f"/groups/{group_id}")
    assert error.code == "not_member"
    assert (await owner.request("GET", f"/groups/{group_id}/join-requests"))["requests"] == []
    error = await refused(owner, "POST", f"/groups/{group_id}/join-requests/{dave.user_id}/approve")
    assert (error.status, error.code) == (404, "not_found")
    members = await owner.request("GET", f"/groups/{group_id}/members")
    assert len(members["members"]) == 3


async def test_a_muted_member_cannot_send_until_unmuted(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client, 3)
    by_http = await make_client(login_as=bob, connect=False)
    await owner.request("POST", f"/groups/{group_id}/admins/{carol.user_id}")

    muted = await owner.mute_member(group_id, bob.user_id, 60)
    assert muted["muted_until"] > 0
    for client in (owner, bob, carol):
        await expect_event(client, "group_updated", change="member_muted")
        # The admin event comes first for those who saw it; skip to the mute's tip.
        message = await client.next_message()
        if message["body"]["event"] == "admin_added":
            message = await client.next_message()
        assert message["body"]["event"] == "member_muted"
        assert message["body"]["user_ids"] == [bob.user_id]

    error = await send_refused(by_http, group_id)
    assert (error.status, error.code) == (403, "member_muted")
    error = await send_refused(bob, group_id)  # over the socket: an error frame
    assert (error.status, error.code) == (0, "member_muted")
    members = (await carol.request("GET", f"/groups/{group_id}/members"))["members"]
    (listed,) = [m for m in members if m["user"]["id"] == bob.user_id]
    assert listed["muted_until"] == muted["muted_until"]

    error = await refused(
        carol, "PUT", f"/groups/{group_id}/mutes/{owner.user_id}", json={"duration_s": 5}
    )
    assert (error.status, error.code) == (403, "forbidden")
    error = await refused(
        bob, "PUT", f"/groups/{group_id}/mutes/{carol.user_id}", json={"duration_s": 5}
    )
    assert (error.status, error.code) == (403, "not_admin")
    error = await refused(
        owner, "PUT", f"/groups/{group_id}/mutes/{owner.user_id}", json={"duration_s": 5}
    )
    assert (error.status, error.code) == (403, "forbidden")
    error = await refused(
        owner, "PUT", f"/groups/{group_id}/mutes/{bob.user_id}", json={"duration_s": 0}
    )
    assert error.status == 422
    error = await refused(
        owner, "PUT", f"/groups/{group_id}/mutes/{bob.user_id}", json={"duration_s": 10**8}
    )
    assert (error.status, error.code) == (422, "invalid_request")
    owner_mutes_admin = await owner.mute_member(group_id, carol.user_id, 1)
    assert owner_mutes_admin["muted_until"] > 0

    unmuted = await carol.unmute_member(group_id, bob.user_id)  # admins may unmute members
    assert unmuted["muted_until"] == 0
    ack = await by_http.send_text("free again", conversation_id=group_id)
    assert ack["seq"] > 0
    await asyncio.sleep(1.1)  # carol's one-second mute has passed
    assert (await carol.send_text("me too", conversation_id=group_id))["seq"] > ack["seq"]


async def test_mute_all_lets_only_the_owner_and_admins_speak(make_client: MakeClient) -> None:
    (owner, bob, carol), group_id = await team(make_client, 3)
    by_http = await make_client(login_as=bob, connect=False)
    await owner.request("POST", f"/groups/{group_id}/admins/{carol.user_id}")

    group = await owner.request("PATCH", f"/groups/{group_id}", json={"muted_all": True})
    assert group["muted_all"] is True
    await expect_event(bob, "group_updated", change="group_muted")
    error = await send_refused(by_http, group_id)
    assert (error.status, error.code) == (403, "group_muted")
    error = await send_refused(bob, group_id)
    assert (error.status, error.code) == (0, "group_muted")
    error = await refused(bob, "PATCH", f"/groups/{group_id}", json={"muted_all": False})
    assert error.code == "not_admin"

    assert (await owner.send_text("owner speaks", conversation_id=group_id))["seq"] > 0
    assert (await carol.send_text("admin speaks", conversation_id=group_id))["seq"] > 0
    # The general path (mentions) follows the same rules.
    error = await refused(
        by_http,
        "POST",
        f"/conversations/{group_id}/messages",
        json={
            "client_msg_id": "m1",
            "kind": "text",
            "body": {"text": "hi"},
            "mentions": [owner.user_id],
        },
    )
    assert error.code == "group_muted"

    await carol.request("PATCH", f"/groups/{group_id}", json={"muted_all": False})
    assert (await by_http.send_text("back", conversation_id=group_id))["seq"] > 0


async def test_member_search_by_name_nickname_or_alias(make_client: MakeClient) -> None:
    owner = await make_client()
    tag = owner.user["username"][-6:]
    zoe = await make_client(f"Zoe{tag}")
    zed = await make_client(f"zed{tag}")
    amy = await make_client(f"amy{tag}")
    group = await make_group(owner, [zoe, zed, amy])
    group_id = int(group["id"])
    await amy.request("PATCH", f"/groups/{group_id}/me", json={"alias": "Zulu"})
    bo = await make_client(f"bo{tag}")
    await bo.request("PATCH", "/users/me", json={"nickname": "Zara"})
    await make_friends(owner, bo)
    await owner.request("POST", f"/groups/{group_id}/members", json={"user_ids": [bo.user_id]})

    found = await owner.search_members(group_id, "z")
    assert {m["user"]["id"] for m in found["members"]} == {
        zoe.user_id,
        zed.user_id,
        amy.user_id,
        bo.user_id,
    }
    found = await owner.search_members(group_id, "ZE")
    assert [m["user"]["id"] for m in found["members"]] == [zed.user_id]
    found = await owner.search_members(group_id, "zAR")  # a nickname
    assert [m["user"]["id"] for m in found["members"]] == [bo.user_id]
    found = await owner.search_members(group_id, "zul")
    assert [m["user"]["id"] for m in found["members"]] == [amy.user_id]
    assert (await owner.search_members(group_id, "z%"))["members"] == []
    assert (await owner.search_members(group_id, "oe"))["members"] == []  # prefixes only

    first = await owner.search_members(group_id, "z", limit=3)
    assert len(first["members"]) == 3
    assert first["next"] is not None
    rest = await owner.search_members(group_id, "z", limit=3, after_user_id=first["next"])
    assert len(rest["members"]) == 1
    assert rest["next"] is None
    stranger = await make_client(connect=False)
    error = await refused(stranger, "GET", f"/groups/{group_id}/members", params={"q": "z"})
    assert error.code == "not_member"
    error = await refused(owner, "GET", f"/groups/{group_id}/members", params={"q": "z" * 65})
    assert error.status == 422
