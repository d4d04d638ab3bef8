"""The SDK's search call, against a stand-in transport: what it asks and what it raises."""

from __future__ import annotations

import httpx
import pytest

from pigeon.client import ApiError, PigeonClient

pytestmark = pytest.mark.asyncio

PAGE: dict[str, object] = {"hits": [], "next_cursor": None}


async def test_search_sends_the_query_and_options() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PAGE)

    client = PigeonClient("http://pigeon.test", transport=httpx.MockTransport(handler))
    client.access_token = "token"
    try:
        assert await client.search_messages("东京 会议") == PAGE
        await client.search_messages("kiwi", conversation_id=7, cursor="abc", limit=5)
    finally:
        await client.close()
    first, second = seen
    assert first.url.path == "/api/v1/search/messages"
    assert dict(first.url.params) == {"q": "东京 会议", "limit": "20"}
    assert dict(second.url.params) == {
        "q": "kiwi",
        "limit": "5",
        "conversation_id": "7",
        "cursor": "abc",
    }
    assert first.headers["Authorization"] == "Bearer token"


async def test_a_refused_search_raises_with_its_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "invalid_cursor", "message": "the cursor is not valid"}}
        return httpx.Response(422, json=body)

    client = PigeonClient("http://pigeon.test", transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(ApiError) as refused:
            await client.search_messages("kiwi", cursor="garbled")
    finally:
        await client.close()
    assert (refused.value.status, refused.value.code) == (422, "invalid_cursor")
