"""A conversation's gallery: attachment messages, newest first, paged, only what the
caller may see."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_friends, make_group

pytestmark = pytest.mark.asyncio


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


async def send_image(client: PigeonClient, conversation_id: int, shade: int) -> dict[str, Any]:
    stored = await client.upload(png((shade, 0, 0)), f"p{shade}.png", "image", "image/png")
    body = {k: stored[k] for k in ("url", "width", "height")}
    return await client.send("image", body, conversation_id=conversation_id)


async def send_file(client: PigeonClient, conversation_id: int, name: str) -> dict[str, Any]:
    stored = await client.upload(b"notes " + name.encode(), name, "file", "text/plain")
    body = {"url": stored["url"], "name": name, "size": stored["size"]}
    return await client.send("file", body, conversation_id=conversation_id)


async def send_voice(client: PigeonClient, conversation_id: int) -> dict[str, Any]:
    stored = await client.upload(b"\x1aE\xdf\xa3 webm", "clip.webm", "voice", "audio/webm")
    body = {"url": stored["url"], "duration_ms": 1500}
    return await client.send("voice", body, conversation_id=conversation_id)


def seqs(page: dict[str, Any]) -> list[int]:
    return [item["seq"] for item in page["items"]]


async def test_media_newest_first_paged_and_by_kind(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    chat = await make_friends(alice, bob)
    await alice.send_text("before", conversation_id=chat)
    images = [await send_image(alice, chat, shade) for shade in (50, 100, 150)]
    document = await send_file(bob, chat, "plan.txt")
    clip = await send_voice(alice, chat)
    await bob.send_text("after", conversation_id=chat)
    newest_first = [clip["seq"], document["seq"], *[i["seq"] for i in reversed(images)]]

    first = await bob.media(chat, limit=2)
    assert (seqs(first), first["has_more"]) == (newest_first[:2], True)
    assert first["conversation_id"] == chat
    second = await bob.media(chat, limit=2, before=first["items"][-1]["seq"])
    third = await bob.media(chat, limit=2, before=second["items"][-1]["seq"])
    assert seqs(second) + seqs(third) == newest_first[2:]
    assert (second["has_more"], third["has_more"]) == (True, False)

    only_images = await alice.media(chat, kinds=["image"])
    assert seqs(only_images) == [i["seq"] for i in reversed(images)]
    picture = only_images["items"][0]["body"]
    assert (picture["width"], picture["height"]) == (40, 30)
    assert picture["thumb_url"].endswith("/thumbnail")
    files = await alice.media(chat, kinds=["file", "voice"])
    assert [item["kind"] for item in files["items"]] == ["voice", "file"]
    assert files["items"][1]["body"]["name"] == "plan.txt"
    assert files["items"][1]["body"]["size"] == len(b"notes plan.txt")


async def test_media_shows_only_what_the_member_may_see(make_client: MakeClient) -> None:
    owner = await make_client()
    early = await make_client()
    late = await make_client()
    group = await make_group(owner, [early])
    gid = group["id"]
    old = await send_image(owner, gid, 10)
    await make_friends(owner, late)
    await owner.request("POST", f"/groups/{gid}/members", json={"user_ids": [late.user_id]})
    await expect_event(late, "group_updated", change="member_joined")
    new = await send_image(owner, gid, 20)
    kept = await send_file(early, gid, "kept.txt")

    assert seqs(await early.media(gid)) == [kept["seq"], new["seq"], old["seq"]]
    # A member who joined later sees what was sent since (new members see no history).
    assert seqs(await late.media(gid)) == [kept["seq"], new["seq"]]

    await owner.request("POST", f"/messages/{new['message_id']}/recall")
    for client in (owner, early, late):
        assert new["seq"] not in seqs(await client.media(gid))
    assert seqs(await late.media(gid)) == [kept["seq"]]


async def test_media_refusals(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    stranger = await make_client(connect=False)
    chat = await make_friends(alice, bob)
    await send_image(alice, chat, 80)
    await bob.next_message()
    for conversation in (chat, 2**40):
        with pytest.raises(ApiError) as caught:
            await stranger.media(conversation)
        assert (caught.value.status, caught.value.code) == (403, "not_member")

    group = await make_group(alice, [bob], befriend=False)
    await send_image(alice, group["id"], 90)
    await bob.request("POST", f"/groups/{group['id']}/quit")
    with pytest.raises(ApiError) as caught:
        await bob.media(group["id"])
    assert caught.value.code == "not_member"

    for params in ({"kind": "text"}, {"limit": "0"}, {"limit": "201"}, {"before": "-1"}):
        with pytest.raises(ApiError) as caught:
            await alice.request("GET", f"/conversations/{chat}/media", params=params)
        assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    async with httpx.AsyncClient(base_url=alice.base_url) as http:
        anonymous = await http.get(f"/api/v1/conversations/{chat}/media")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthorized")
