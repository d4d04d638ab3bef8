"""Presence and gateway discovery, the same in embedded and cluster mode."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pigeon.client import ApiError
from tests.conftest import MakeClient
from tests.helpers import make_friends, no_frame

pytestmark = pytest.mark.asyncio


def presence_of(user_id: int, online: bool, devices: list[str]) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        return (
            frame.get("type") == "presence"
            and frame.get("user_id") == user_id
            and frame.get("online") is online
            and sorted(frame.get("devices", [])) == sorted(devices)
        )

    return match


async def test_friends_see_devices_come_and_go(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client(connect=False)
    await make_friends(alice, bob)
    await bob.connect()
    await alice.wait_for(presence_of(bob.user_id, True, ["web"]), timeout=5)
    phone = await make_client(device="mobile", login_as=bob)
    await alice.wait_for(presence_of(bob.user_id, True, ["mobile", "web"]), timeout=5)
    listed = await alice.request("GET", "/friends")
    entry = next(f for f in listed["friends"] if f["user"]["id"] == bob.user_id)
    assert (entry["online"], sorted(entry["devices"])) == (True, ["mobile", "web"])
    await phone.close()
    await alice.wait_for(presence_of(bob.user_id, True, ["web"]), timeout=5)
    await bob.close()
    await alice.wait_for(presence_of(bob.user_id, False, []), timeout=5)


async def test_a_quick_reconnect_announces_nothing(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client(connect=False)
    await make_friends(alice, bob)
    await bob.connect()
    await alice.wait_for(presence_of(bob.user_id, True, ["web"]), timeout=5)
    await bob.drop_connection()
    assert await no_frame(alice, "presence", wait=2.0, user_id=bob.user_id)
    assert bob.connected


async def test_presence_query_shows_friends_only(make_client: MakeClient) -> None:
    alice = await make_client()
    friend = await make_client()
    stranger = await make_client()
    await make_friends(alice, friend)
    found = await alice.request(
        "POST",
        "/presence/query",
        json={"user_ids": [friend.user_id, stranger.user_id, alice.user_id]},
    )
    assert found == {
        "presence": {
            str(friend.user_id): {"online": True, "devices": ["web"], "last_seen": None},
            str(alice.user_id): {"online": True, "devices": ["web"], "last_seen": None},
        }
    }
    assert await no_frame(stranger, "presence", wait=0.2, user_id=alice.user_id)
    for bad in ({"user_ids": "x"}, {"user_ids": [0]}, {"user_ids": list(range(1, 1100))}, {}):
        with pytest.raises(ApiError) as caught:
            await alice.request("POST", "/presence/query", json=bad)
        assert (caught.value.status, caught.value.code) == (422, "invalid_request"), bad
    assert await stranger.request("POST", "/presence/query", json={"user_ids": []}) == {
        "presence": {}
    }


async def test_gateway_discovery_gives_a_working_socket_url(make_client: MakeClient) -> None:
    client = await make_client(connect=False)
    async with httpx.AsyncClient() as http:
        response = await http.get(client.base_url + "/api/v1/gateway")
    assert response.status_code == 200
    found = response.json()
    assert found["url"].startswith("ws")
    assert found["url"].endswith("/ws")
    assert found["gateway_id"]
    client.ws_url = found["url"]
    await client.connect()
    assert client.connected
