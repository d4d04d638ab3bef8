"""The messaging settings that open or tighten the rules, on a server configured for them:
private messages between strangers, groups of non-friends, members inviting, full history
for newcomers, the size limit, hot groups (push + pull), and the recall and edit windows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.harness import ServerProcess, start_embedded
from tests.helpers import expect_event, no_frame, no_message

pytestmark = pytest.mark.asyncio

SETTINGS = {
    "PIGEON_GATEWAY__RATE_PER_S": "1000",
    "PIGEON_GATEWAY__RATE_BURST": "2000",
    "PIGEON_MESSAGING__REQUIRE_FRIENDSHIP": "false",
    "PIGEON_MESSAGING__GROUP_INVITE_REQUIRES_FRIENDSHIP": "false",
    "PIGEON_MESSAGING__MEMBERS_CAN_INVITE": "true",
    "PIGEON_MESSAGING__NEW_MEMBERS_SEE_HISTORY": "true",
    "PIGEON_MESSAGING__MAX_GROUP_MEMBERS": "5",
    "PIGEON_MESSAGING__HOT_GROUP_THRESHOLD": "4",
    "PIGEON_MESSAGING__RECALL_WINDOW_S": "1",
    "PIGEON_MESSAGING__EDIT_WINDOW_S": "1",
}


@pytest.fixture(scope="module")
def open_server() -> Iterator[ServerProcess]:
    process = start_embedded(SETTINGS)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def make(make_client: MakeClient, open_server: ServerProcess) -> MakeClient:
    async def build(**kwargs: Any) -> PigeonClient:
        return await make_client(target=open_server, **kwargs)

    return build


async def users(make: MakeClient, count: int) -> list[PigeonClient]:
    return list(await asyncio.gather(*(make() for _ in range(count))))


async def group_of(owner: PigeonClient, members: list[PigeonClient]) -> int:
    group = await owner.request(
        "POST", "/groups", json={"name": "open", "member_ids": [m.user_id for m in members]}
    )
    return int(group["id"])


async def test_strangers_may_message_unless_blocked(make: MakeClient) -> None:
    alice, bob = await users(make, 2)

    ack = await alice.send_text("hello stranger", to_user_id=bob.user_id)
    assert (await bob.next_message())["seq"] == ack["seq"]

    await bob.request("POST", f"/blocks/{alice.user_id}")
    with pytest.raises(ApiError) as caught:
        await alice.send_text("hello again", conversation_id=ack["conversation_id"])
    assert caught.value.code == "blocked"
    assert await no_message(bob)


async def test_groups_of_strangers_members_invite_and_newcomers_see_history(
    make: MakeClient,
) -> None:
    owner, bob, carol = await users(make, 3)
    group_id = await group_of(owner, [bob])
    await owner.send_text("early history", conversation_id=group_id)

    group = await bob.request(
        "POST", f"/groups/{group_id}/members", json={"user_ids": [carol.user_id]}
    )
    assert group["member_count"] == 3
    await expect_event(carol, "group_updated", change="member_joined")
    history = await carol.request("GET", f"/conversations/{group_id}/messages")
    assert [m["kind"] for m in history["messages"]] == ["system", "text", "system"]
    assert history["messages"][1]["body"]["text"] == "early history"


async def test_size_limit(make: MakeClient) -> None:
    owner, *others = await users(make, 6)

    with pytest.raises(ApiError) as caught:
        await group_of(owner, others)
    assert (caught.value.status, caught.value.code) == (409, "group_full")
    group_id = await group_of(owner, others[:4])
    with pytest.raises(ApiError) as caught:
        await owner.request(
            "POST", f"/groups/{group_id}/members", json={"user_ids": [others[4].user_id]}
        )
    assert (caught.value.status, caught.value.code) == (409, "group_full")
    group = await owner.request("GET", f"/groups/{group_id}")
    assert group["member_count"] == 5


async def test_hot_group_members_get_a_notice_and_pull(make: MakeClient) -> None:
    owner, *members = await users(make, 4)
    group_id = await group_of(owner, members)
    group = await owner.request("GET", f"/groups/{group_id}")
    assert group["hot"] is True
    reader = members[0]
    created = await reader.next_message()
    assert created["body"]["event"] == "group_created"

    ack = await owner.send_text("to many", conversation_id=group_id)
    notice = await reader.wait_for(
        lambda f: f["type"] == "notice" and f["last_seq"] == ack["seq"], timeout=5
    )
    assert notice["conversation_id"] == group_id
    pulled = await reader.next_message()  # the client pulled after the notice
    assert (pulled["seq"], pulled["body"]["text"]) == (ack["seq"], "to many")
    await owner.send_frame({"type": "typing", "conversation_id": group_id})
    assert await no_frame(reader, "typing", wait=0.5)  # no typing noise in hot groups


async def test_hot_group_pushes_no_full_messages(make: MakeClient) -> None:
    owner, *members = await users(make, 4)
    group_id = await group_of(owner, members)
    reader = members[1]
    await reader.next_message()
    ack = await owner.send_text("only a notice", conversation_id=group_id)
    await reader.wait_for(lambda f: f["type"] == "notice" and f["last_seq"] == ack["seq"])
    assert (await reader.next_message())["seq"] == ack["seq"]
    with pytest.raises(TimeoutError):
        await reader.wait_for(
            lambda f: f["type"] == "message" and f["message"]["seq"] == ack["seq"], timeout=0.3
        )


async def test_recall_window(make: MakeClient) -> None:
    owner, bob = await users(make, 2)
    private = await bob.send_text("private", to_user_id=owner.user_id)
    group_id = await group_of(owner, [bob])
    in_group = await bob.send_text("group", conversation_id=group_id)
    owners = await owner.send_text("owner's own", conversation_id=group_id)
    await asyncio.sleep(1.2)

    for message in (private, in_group):
        with pytest.raises(ApiError) as caught:
            await bob.request("POST", f"/messages/{message['message_id']}/recall")
        assert (caught.value.status, caught.value.code) == (403, "recall_window_passed")
    # The group owner is not bound by the window, for anyone's message.
    for message in (in_group, owners):
        recall = await owner.request("POST", f"/messages/{message['message_id']}/recall")
        assert recall["conversation_id"] == group_id
    history = await bob.request("GET", f"/conversations/{group_id}/messages")
    assert [m["kind"] for m in history["messages"]][-2:] == ["recall", "recall"]
    assert [m["recalled"] for m in history["messages"] if m["kind"] == "text"] == [True, True]


async def test_busy_hot_group_sends_one_notice_until_the_member_pulls(make: MakeClient) -> None:
    owner, *members = await users(make, 4)
    group_id = await group_of(owner, members)
    member = members[2]
    await member.next_message()  # the group_created tip
    await member.disconnect()  # offline: nothing pulls while the group is busy
    acks = [await owner.send_text(f"busy {i}", conversation_id=group_id) for i in range(5)]

    # Back online, the member catches up by seq, which clears its notice...
    await member.connect()
    caught_up = [await member.next_message() for _ in range(5)]
    assert [m["seq"] for m in caught_up] == [a["seq"] for a in acks]
    # ...so the next message notifies it again.
    first = await owner.send_text("after catching up", conversation_id=group_id)
    notice = await member.wait_for(
        lambda f: f["type"] == "notice" and f["last_seq"] == first["seq"], timeout=5
    )
    assert notice["conversation_id"] == group_id
    assert (await member.next_message())["seq"] == first["seq"]  # the client pulled it


async def test_notices_are_coalesced_while_a_member_has_not_pulled(make: MakeClient) -> None:
    owner, *members = await users(make, 4)
    group_id = await group_of(owner, members)
    reader = members[1]
    await reader.next_message()
    # A raw socket that never pulls: only the first message of a burst gets a notice.
    async with connect(reader.ws_url) as ws:
        await reader.disconnect()
        await ws.send(json.dumps({"type": "auth", "token": reader.access_token}))
        assert json.loads(await ws.recv())["type"] == "hello"
        acks = [await owner.send_text(f"burst {i}", conversation_id=group_id) for i in range(6)]
        notices = []
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                if frame["type"] == "notice":
                    notices.append(frame["last_seq"])
        except TimeoutError:
            pass
    assert notices == [acks[0]["seq"]]


async def test_fetching_the_conversation_also_rearms_the_notice(make: MakeClient) -> None:
    owner, *members = await users(make, 4)
    group_id = await group_of(owner, members)
    reader = members[0]
    await reader.next_message()
    async with connect(reader.ws_url) as ws:
        await reader.disconnect()
        await ws.send(json.dumps({"type": "auth", "token": reader.access_token}))
        assert json.loads(await ws.recv())["type"] == "hello"

        async def notices_after(text: str) -> list[int]:
            ack = await owner.send_text(text, conversation_id=group_id)
            seen = []
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.7))
                    if frame["type"] == "notice":
                        seen.append(frame["last_seq"])
            except TimeoutError:
                pass
            return [seq for seq in seen if seq == ack["seq"]]

        assert len(await notices_after("first")) == 1
        assert await notices_after("second") == []  # coalesced: not caught up yet
        await reader.request("GET", f"/conversations/{group_id}")  # sees the latest seq
        assert len(await notices_after("third")) == 1


async def test_edit_window(make: MakeClient) -> None:
    owner, bob = await users(make, 2)
    sent = await bob.send_text("first draft", to_user_id=owner.user_id)
    assert (await bob.edit(sent["message_id"], "second draft"))["body"]["text"] == "second draft"
    await asyncio.sleep(1.2)
    with pytest.raises(ApiError) as caught:
        await bob.edit(sent["message_id"], "third draft")
    assert (caught.value.status, caught.value.code) == (403, "edit_window_passed")
    # Reactions have no window.
    reacted = await owner.react(sent["message_id"], "👍")
    assert reacted["reactions"][0]["count"] == 1
