"""Edits and reactions through the SDK against a real server: what every device is told,
what a device that was away learns from the changes feed, what history shows, and every
refusal with its code."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import make_friends, make_group, no_message

pytestmark = pytest.mark.asyncio


async def refused(client: PigeonClient, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        await client.request(method, path, **kwargs)
    return caught.value.status, caught.value.code


async def changed(client: PigeonClient) -> dict[str, Any]:
    frame = await client.wait_for(lambda f: f["type"] == "message_changed", timeout=5)
    message: dict[str, Any] = frame["message"]
    return message


async def pair(make_client: MakeClient) -> tuple[PigeonClient, PigeonClient, dict[str, Any]]:
    alice, bob = await make_client(), await make_client()
    await make_friends(alice, bob)
    ack = await alice.send_text("see you at 10", to_user_id=bob.user_id)
    await bob.next_message()
    return alice, bob, ack


async def test_an_edit_reaches_both_sides_and_history_keeps_the_earlier_text(
    make_client: MakeClient,
) -> None:
    alice, bob, ack = await pair(make_client)
    cid, mid = ack["conversation_id"], ack["message_id"]

    edited = await alice.edit(mid, "see you at 11")
    assert edited["body"] == {"text": "see you at 11"}
    assert edited["edited_at"] is not None
    assert edited["version"] == 1
    for client in (alice, bob):
        seen = await changed(client)
        assert (seen["id"], seen["body"], seen["version"]) == (mid, edited["body"], 1)
    # No new message, no seq, nothing unread.
    assert await no_message(bob)
    conversation = await bob.request("GET", f"/conversations/{cid}")
    assert (conversation["last_seq"], conversation["last_change"]) == (ack["seq"], 1)
    assert conversation["unread"] == 1  # the original only
    page = await bob.request("GET", f"/conversations/{cid}/messages")
    assert page["messages"][-1]["body"] == {"text": "see you at 11"}

    history = await alice.request("GET", f"/messages/{mid}/edits")
    assert [e["body"] for e in history["edits"]] == [{"text": "see you at 10"}]
    assert await refused(bob, "GET", f"/messages/{mid}/edits") == (403, "forbidden")
    # The same text again changes nothing.
    again = await alice.edit(mid, "see you at 11")
    assert again["version"] == 1


async def test_reactions_count_who_reacted_and_are_not_messages(make_client: MakeClient) -> None:
    alice, bob, ack = await pair(make_client)
    mid = ack["message_id"]

    await bob.react(mid, "👍")
    after_alice = await alice.react(mid, "👍")
    assert after_alice["reactions"] == [
        {"emoji": "👍", "count": 2, "user_ids": [bob.user_id, alice.user_id]}
    ]
    both = await bob.react(mid, "👩‍💻")
    assert [(r["emoji"], r["count"]) for r in both["reactions"]] == [("👍", 2), ("👩‍💻", 1)]
    # Twice is once.
    assert (await bob.react(mid, "👍"))["version"] == both["version"]

    frames = [await changed(alice) for _ in range(3)]
    assert [m["version"] for m in frames] == [1, 2, 3]
    assert frames[-1]["reactions"] == both["reactions"]

    listed = await alice.request("GET", f"/messages/{mid}/reactions")
    assert [(r["emoji"], r["user_id"]) for r in listed["reactions"]] == [
        ("👍", bob.user_id),
        ("👍", alice.user_id),
        ("👩‍💻", bob.user_id),
    ]
    only = await alice.request("GET", f"/messages/{mid}/reactions", params={"emoji": "👩‍💻"})
    assert [r["user_id"] for r in only["reactions"]] == [bob.user_id]

    left = await bob.unreact(mid, "👍")
    assert [(r["emoji"], r["count"]) for r in left["reactions"]] == [("👍", 1), ("👩‍💻", 1)]
    assert (await bob.unreact(mid, "👍"))["version"] == left["version"]  # not there: no change
    assert await no_message(alice)


async def test_a_device_that_was_away_catches_up_from_the_changes_feed(
    make_client: MakeClient,
) -> None:
    alice, bob, ack = await pair(make_client)
    cid, mid = ack["conversation_id"], ack["message_id"]
    second = await alice.send_text("and bring the map", to_user_id=bob.user_id)
    await bob.next_message()
    seen = (await bob.request("GET", f"/conversations/{cid}"))["last_change"]

    await bob.disconnect()
    await alice.react(mid, "🎉")
    await alice.edit(second["message_id"], "and bring the maps")
    await alice.react(mid, "❤️")

    feed = await bob.request("GET", f"/conversations/{cid}/changes", params={"after": seen})
    assert [(m["id"], m["version"]) for m in feed["messages"]] == [
        (second["message_id"], seen + 2),
        (mid, seen + 3),
    ]
    assert feed["last_change"] == seen + 3
    assert not feed["has_more"]
    assert feed["messages"][0]["body"] == {"text": "and bring the maps"}
    assert [r["emoji"] for r in feed["messages"][1]["reactions"]] == ["🎉", "❤️"]
    # Paged: one at a time, each page saying where to go on from.
    first = await bob.request(
        "GET", f"/conversations/{cid}/changes", params={"after": seen, "limit": 1}
    )
    assert first["has_more"]
    assert first["last_change"] == seen + 2
    rest = await bob.request(
        "GET", f"/conversations/{cid}/changes", params={"after": first["last_change"]}
    )
    assert [m["id"] for m in rest["messages"]] == [mid]

    # The SDK applies the feed to the messages it holds.
    await bob.connect()
    applied = await bob.changes(cid, after=seen)
    assert len(applied) == 2
    held = {m["id"]: m for m in bob.messages[cid]}
    assert held[second["message_id"]]["body"] == {"text": "and bring the maps"}


async def test_group_members_see_changes_and_history_carries_reactions(
    make_client: MakeClient,
) -> None:
    owner, bob, carol = [await make_client() for _ in range(3)]
    group = await make_group(owner, [bob, carol])
    gid = int(group["id"])
    ack = await bob.send_text("lunch?", conversation_id=gid)
    for client in (owner, carol):
        await client.next_message()

    await carol.react(ack["message_id"], "🍕")
    for client in (owner, bob, carol):
        seen = await changed(client)
        assert seen["reactions"] == [{"emoji": "🍕", "count": 1, "user_ids": [carol.user_id]}]
    page = await owner.request("GET", f"/conversations/{gid}/messages")
    assert page["messages"][-1]["reactions"][0]["emoji"] == "🍕"
    pulled = await owner.request(
        "GET", f"/conversations/{gid}/messages", params={"after": ack["seq"] - 1}
    )
    assert pulled["messages"][0]["reactions"][0]["count"] == 1
    listed = await owner.request("GET", "/conversations")
    summary = next(c for c in listed["conversations"] if c["id"] == gid)
    assert summary["last_message"]["reactions"][0]["emoji"] == "🍕"

    # Someone else's message cannot be edited, even by the owner.
    assert await refused(owner, "PATCH", f"/messages/{ack['message_id']}", json={"text": "x"}) == (
        403,
        "forbidden",
    )


async def test_changes_are_refused_with_their_codes(make_client: MakeClient) -> None:
    alice, bob, ack = await pair(make_client)
    mid, cid = ack["message_id"], ack["conversation_id"]
    outsider = await make_client()
    reactions = f"/messages/{mid}/reactions"

    for bad in ("a", "👍👍", "thumbs", " "):
        assert await refused(bob, "PUT", f"{reactions}/{quote(bad)}") == (
            422,
            "invalid_reaction",
        )
    assert await refused(outsider, "PUT", f"{reactions}/{quote('👍')}") == (403, "not_member")
    assert await refused(outsider, "GET", reactions) == (403, "not_member")
    assert await refused(outsider, "GET", f"/conversations/{cid}/changes") == (403, "not_member")
    assert await refused(bob, "PUT", f"/messages/999999999/reactions/{quote('👍')}") == (
        404,
        "not_found",
    )
    assert await refused(bob, "PATCH", f"/messages/{mid}", json={"text": "mine now"}) == (
        403,
        "forbidden",
    )
    assert await refused(alice, "PATCH", f"/messages/{mid}", json={"text": "   "}) == (
        422,
        "invalid_request",
    )
    assert await refused(alice, "PATCH", f"/messages/{mid}", json={}) == (422, "invalid_request")
    assert await refused(alice, "GET", f"/conversations/{cid}/changes", params={"after": -1}) == (
        422,
        "invalid_request",
    )

    # One person may put three different emoji on a message.
    for emoji in ("😀", "😃", "😄"):
        await bob.react(mid, emoji)
    assert await refused(bob, "PUT", f"{reactions}/{quote('😁')}") == (409, "too_many_reactions")

    # A recalled message takes no more changes.
    await alice.request("POST", f"/messages/{mid}/recall")
    assert await refused(bob, "PUT", f"{reactions}/{quote('👍')}") == (422, "not_editable")
    assert await refused(alice, "PATCH", f"/messages/{mid}", json={"text": "x"}) == (
        422,
        "not_editable",
    )
    page = await bob.request("GET", f"/conversations/{cid}/messages")
    recalled = next(m for m in page["messages"] if m["id"] == mid)
    assert recalled["reactions"] == []
    assert recalled["body"] == {}

    # Blocked: no reactions to the one who blocked you.
    other = await alice.send_text("still here", to_user_id=bob.user_id)
    await bob.request("POST", f"/blocks/{alice.user_id}")
    assert await refused(
        alice, "PUT", f"/messages/{other['message_id']}/reactions/{quote('👍')}"
    ) == (
        403,
        "blocked",
    )


async def test_a_reply_quotes_its_original_as_it_stands(make_client: MakeClient) -> None:
    alice, bob, ack = await pair(make_client)
    cid, original = ack["conversation_id"], ack["message_id"]

    reply = await bob.send_text("10 is fine", conversation_id=cid, reply_to=original)
    pushed = await alice.next_message()
    assert pushed["id"] == reply["message_id"]
    assert pushed["body"] == {"text": "10 is fine"}
    assert pushed["reply_to"] == {
        "message_id": original,
        "seq": ack["seq"],
        "sender_id": alice.user_id,
        "kind": "text",
        "snippet": "see you at 10",
        "recalled": False,
    }
    # By user id over HTTP too.
    await bob.request(
        "POST",
        "/messages/private",
        json={
            "client_msg_id": "r2",
            "to_user_id": alice.user_id,
            "body": {"text": "or 11"},
            "reply_to": original,
        },
    )
    assert (await alice.next_message())["reply_to"]["message_id"] == original

    # The quote follows the original: its latest text, then its recall.
    await alice.edit(original, "see you at 10:30")
    page = await bob.request("GET", f"/conversations/{cid}/messages")
    quoted = {m["id"]: m for m in page["messages"]}[reply["message_id"]]
    assert quoted["reply_to"]["snippet"] == "see you at 10:30"
    await alice.request("POST", f"/messages/{original}/recall")
    page = await bob.request("GET", f"/conversations/{cid}/messages")
    quoted = {m["id"]: m for m in page["messages"]}[reply["message_id"]]
    assert quoted["reply_to"]["recalled"]
    assert quoted["reply_to"]["snippet"] == ""
    assert quoted["body"] == {"text": "10 is fine"}


async def test_a_reply_must_answer_a_message_of_its_conversation(
    make_client: MakeClient,
) -> None:
    alice, bob, ack = await pair(make_client)
    carol = await make_client()
    await make_friends(alice, carol)
    elsewhere = await alice.send_text("hi carol", to_user_id=carol.user_id)
    cid = ack["conversation_id"]
    for bad in (elsewhere["message_id"], 999_999_999):
        with pytest.raises(ApiError) as caught:
            await bob.send_text("?", conversation_id=cid, reply_to=bad)
        assert caught.value.code == "invalid_request"  # an error frame: the socket's answer
    with pytest.raises(ApiError) as caught:
        await alice.send_text("?", to_user_id=bob.user_id, reply_to=elsewhere["message_id"])
    assert caught.value.code == "invalid_request"
