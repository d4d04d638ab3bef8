"""Searching messages through the HTTP API: what a member may see, CJK text, ranking,
paging, one conversation, and every refusal."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.helpers import make_friends, make_group

pytestmark = pytest.mark.asyncio


def texts(page: dict[str, Any]) -> list[str]:
    return [hit["message"]["body"]["text"] for hit in page["hits"]]


def marked(hit: dict[str, Any]) -> list[str]:
    return [part["text"] for part in hit["snippet"] if part["match"]]


async def search_all(client: PigeonClient, query: str, **options: Any) -> list[dict[str, Any]]:
    """Every hit, page by page."""
    hits: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = await client.search_messages(query, cursor=cursor, **options)
        hits += page["hits"]
        cursor = page["next_cursor"]
        if cursor is None:
            return hits
    raise AssertionError("paging did not end")


async def group_of(owner: PigeonClient, *members: PigeonClient) -> int:
    group = await make_group(owner, list(members), name="search")
    return int(group["id"])


async def test_chinese_and_japanese_words_are_found_without_spaces(
    make_client: MakeClient,
) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    cid = await make_friends(alice, bob)
    sent = {
        "zh": "我们明天去东京开会, 记得带上报告",
        "ja": "今日は東京タワーに行きます。天気がいいですね",
        "meeting": "会议改到下午三点",
        "en": "Lunch at the Noodle place?",
    }
    acks = {k: await alice.send_text(v, conversation_id=cid) for k, v in sent.items()}

    # Two-character words (no trigram) and longer ones, in both scripts.
    for query, key in [
        ("东京", "zh"),
        ("会议", "meeting"),
        ("東京タワー", "ja"),
        ("天気", "ja"),
        ("带上报告", "zh"),
        ("noodle", "en"),
        ("明天 报告", "zh"),
    ]:
        page = await bob.search_messages(query)
        assert texts(page) == [sent[key]], query
        hit = page["hits"][0]
        assert (hit["message"]["conversation_id"], hit["message"]["seq"]) == (
            cid,
            acks[key]["seq"],
        )
        assert "".join(p["text"] for p in hit["snippet"]) == sent[key]
    assert marked((await bob.search_messages("東京タワー"))["hits"][0]) == ["東京タワー"]
    assert marked((await bob.search_messages("NOODLE"))["hits"][0]) == ["Noodle"]
    assert marked((await bob.search_messages("明天 报告"))["hits"][0]) == ["明天", "报告"]
    # "東京" is written the same in both texts: a 2-character query finds both.
    assert sorted(
        texts(await bob.search_messages("東京")) + texts(await bob.search_messages("东京"))
    ) == sorted([sent["ja"], sent["zh"]])
    assert texts(await bob.search_messages("大阪")) == []
    assert texts(await bob.search_messages("京都タワー")) == []


async def test_a_member_finds_only_what_they_may_see(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    carol = await make_client()
    cid = await group_of(alice, bob)
    await alice.send_text("before carol: plan kumquat", conversation_id=cid)
    recalled = await alice.send_text("oops kumquat secret", conversation_id=cid)
    await alice.request("POST", f"/messages/{recalled['message_id']}/recall")

    await make_friends(alice, carol)
    await alice.request("POST", f"/groups/{cid}/members", json={"user_ids": [carol.user_id]})
    await alice.send_text("after carol: kumquat party", conversation_id=cid)

    # Carol joined later: only what follows her joining. Nobody finds the recalled one.
    assert texts(await carol.search_messages("kumquat")) == ["after carol: kumquat party"]
    assert sorted(texts(await bob.search_messages("kumquat"))) == [
        "after carol: kumquat party",
        "before carol: plan kumquat",
    ]
    assert texts(await alice.search_messages("secret")) == []

    # Bob leaves: nothing of the group, before or after; rejoined, only what follows.
    await bob.request("POST", f"/groups/{cid}/quit")
    await alice.send_text("while bob is away: kumquat", conversation_id=cid)
    assert texts(await bob.search_messages("kumquat")) == []
    with pytest.raises(ApiError) as refused:
        await bob.search_messages("kumquat", conversation_id=cid)
    assert (refused.value.status, refused.value.code) == (403, "not_member")
    await alice.request("POST", f"/groups/{cid}/members", json={"user_ids": [bob.user_id]})
    await alice.send_text("bob is back: kumquat", conversation_id=cid)
    assert texts(await bob.search_messages("kumquat")) == ["bob is back: kumquat"]
    # Nor does a stranger see anything of it.
    stranger = await make_client(connect=False)
    assert texts(await stranger.search_messages("kumquat")) == []


async def test_ranked_by_relevance_then_newer_first_and_paged(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    cid = await make_friends(alice, bob)
    long = "yesterday we walked for hours along the river and at the very end found a persimmon"
    await alice.send_text(long, conversation_id=cid)
    await alice.send_text("persimmon", conversation_id=cid)
    twins = [await alice.send_text("a ripe persimmon pie", conversation_id=cid) for _ in range(2)]
    for i in range(7):
        await alice.send_text(f"persimmon number {i} of the basket we bought", conversation_id=cid)

    first = await bob.search_messages("persimmon", limit=3)
    assert texts(first)[0] == "persimmon"
    hits = await search_all(bob, "persimmon", limit=3)
    assert len(hits) == 11
    assert len({h["message"]["id"] for h in hits}) == 11
    assert hits[0]["message"]["body"]["text"] == "persimmon"
    assert hits[-1]["message"]["body"]["text"] == long
    order = [(-h["score"], -h["message"]["id"]) for h in hits]
    assert order == sorted(order)
    # Equal texts score alike: the newer first.
    twin_hits = [h["message"]["id"] for h in hits if h["message"]["body"]["text"].endswith("pie")]
    assert twin_hits == [twins[1]["message_id"], twins[0]["message_id"]]

    # A 2-character query pages too (newest first).
    for i in range(5):
        await alice.send_text(f"第{i}个柿子", conversation_id=cid)
    short = await search_all(bob, "柿子", limit=2)
    assert [h["message"]["body"]["text"] for h in short] == [
        f"第{i}个柿子" for i in range(4, -1, -1)
    ]


async def test_search_within_one_conversation(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    carol = await make_client(connect=False)
    with_bob = await make_friends(alice, bob)
    with_carol = await make_friends(alice, carol)
    await alice.send_text("tamarind for bob", conversation_id=with_bob)
    await alice.send_text("tamarind for carol", conversation_id=with_carol)

    assert sorted(texts(await alice.search_messages("tamarind"))) == [
        "tamarind for bob",
        "tamarind for carol",
    ]
    only = await alice.search_messages("tamarind", conversation_id=with_carol)
    assert texts(only) == ["tamarind for carol"]
    with pytest.raises(ApiError) as refused:
        await bob.search_messages("tamarind", conversation_id=with_carol)
    assert (refused.value.status, refused.value.code) == (403, "not_member")


async def test_messages_sent_over_the_socket_are_found_at_once(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    cid = await make_friends(alice, bob)
    ack = await alice.send_text("rambutan over the socket", conversation_id=cid)
    page = await bob.search_messages("rambutan")
    assert [h["message"]["id"] for h in page["hits"]] == [ack["message_id"]]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": ""}, "invalid_query"),
        ({"q": "   "}, "invalid_query"),
        ({"q": "x" * 101}, "invalid_query"),
        ({"q": " ".join("abcdefghij")}, "invalid_query"),
        ({"q": "a\x00b"}, "invalid_query"),
        ({"q": "hello", "cursor": "not a cursor!"}, "invalid_cursor"),
        ({"q": "hello", "cursor": base64.urlsafe_b64encode(b"[1,2]").decode()}, "invalid_cursor"),
        ({"q": "hello", "cursor": "A" * 300}, "invalid_cursor"),
        ({}, "invalid_request"),
        ({"q": "hello", "limit": 0}, "invalid_request"),
        ({"q": "hello", "limit": 51}, "invalid_request"),
        ({"q": "hello", "conversation_id": 0}, "invalid_request"),
        ({"q": "hello", "conversation_id": "abc"}, "invalid_request"),
    ],
)
async def test_malformed_searches_are_refused(
    make_client: MakeClient, params: dict[str, Any], code: str
) -> None:
    alice = await make_client(connect=False)
    with pytest.raises(ApiError) as refused:
        await alice.request("GET", "/search/messages", params=params)
    assert (refused.value.status, refused.value.code) == (422, code)


async def test_a_cursor_from_another_search_is_refused(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    cid = await make_friends(alice, bob)
    for i in range(3):
        await alice.send_text(f"guava {i}", conversation_id=cid)
    page = await bob.search_messages("guava", limit=1)
    assert page["next_cursor"] is not None
    for query, within in (("guava!", None), ("guava", cid)):
        with pytest.raises(ApiError) as refused:
            await bob.search_messages(query, conversation_id=within, cursor=page["next_cursor"])
        assert refused.value.code == "invalid_cursor"


async def test_search_needs_a_login(server: Any) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.http_url + "/api/v1/search/messages", params={"q": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_the_openapi_document_describes_search(server: Any) -> None:
    async with httpx.AsyncClient() as http:
        document = (await http.get(server.http_url + "/openapi.json")).json()
    operation = document["paths"]["/api/v1/search/messages"]["get"]
    assert operation.get("description")
    assert {p["name"] for p in operation["parameters"]} == {
        "q",
        "conversation_id",
        "cursor",
        "limit",
    }
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/SearchPage")
    assert {"401", "403", "422"} <= set(operation["responses"])
    hit = document["components"]["schemas"]["SearchHit"]["properties"]
    assert set(hit) == {"message", "snippet", "score"}


async def test_an_edit_is_found_by_its_new_text_and_a_hidden_message_by_nobody_who_hid_it(
    make_client: MakeClient,
) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    cid = await make_friends(alice, bob)
    ack = await alice.send_text("see you at the quince market", conversation_id=cid)
    await alice.request(
        "PATCH", f"/messages/{ack['message_id']}", json={"text": "see you at the 海边"}
    )
    assert texts(await bob.search_messages("quince")) == []
    assert texts(await bob.search_messages("海边")) == ["see you at the 海边"]
    assert texts(await bob.search_messages("see you")) == ["see you at the 海边"]

    other = await alice.send_text("a quince for you", conversation_id=cid)
    await bob.request(
        "POST", f"/conversations/{cid}/hide", json={"message_ids": [other["message_id"]]}
    )
    assert texts(await bob.search_messages("quince")) == []
    assert texts(await alice.search_messages("quince")) == ["a quince for you"]
