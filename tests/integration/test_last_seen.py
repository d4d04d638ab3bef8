"""Last seen: kept when a user's last device goes offline, shown only to friends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import PASSWORD, MakeClient, unique_name
from tests.harness import start_embedded
from tests.helpers import make_friends, no_frame

pytestmark = pytest.mark.asyncio


def offline_frame(user_id: int) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        return (
            frame.get("type") == "presence"
            and frame.get("user_id") == user_id
            and frame.get("online") is False
        )

    return match


def online_frame(user_id: int) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        return (
            frame.get("type") == "presence"
            and frame.get("user_id") == user_id
            and frame.get("online") is True
        )

    return match


async def test_friends_learn_when_the_last_device_went_offline(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client(connect=False)
    await make_friends(alice, bob)
    assert (await alice.presence([bob.user_id]))[bob.user_id] == {
        "online": False,
        "devices": [],
        "last_seen": None,
    }
    await bob.connect()
    came = await alice.wait_for(online_frame(bob.user_id), timeout=5)
    assert came["last_seen"] is None
    phone = await make_client(device="mobile", login_as=bob)
    await phone.close()
    assert await no_frame(alice, "presence", wait=1.5, user_id=bob.user_id, online=False)

    before = int(time.time() * 1000)
    await bob.close()
    went = await alice.wait_for(offline_frame(bob.user_id), timeout=8)
    after = int(time.time() * 1000)
    assert before <= went["last_seen"] <= after
    assert went["devices"] == []

    found = await alice.presence([bob.user_id])
    assert found[bob.user_id] == {"online": False, "devices": [], "last_seen": went["last_seen"]}
    listed = await alice.request("GET", "/friends")
    entry = next(f for f in listed["friends"] if f["user"]["id"] == bob.user_id)
    assert (entry["online"], entry["last_seen"]) == (False, went["last_seen"])

    # Back online: last seen is not shown while connected, and moves on at the next offline.
    back = await make_client(login_as=bob)
    came = await alice.wait_for(online_frame(bob.user_id), timeout=5)
    assert came["last_seen"] is None
    assert (await alice.presence([bob.user_id]))[bob.user_id]["last_seen"] is None
    await back.close()
    again = await alice.wait_for(offline_frame(bob.user_id), timeout=8)
    assert again["last_seen"] > went["last_seen"]


async def test_last_seen_is_for_friends_only(make_client: MakeClient) -> None:
    alice = await make_client()
    bob = await make_client()
    stranger = await make_client()
    await make_friends(alice, bob)
    await bob.close()
    await alice.wait_for(offline_frame(bob.user_id), timeout=8)
    assert await stranger.presence([bob.user_id]) == {}
    assert await no_frame(stranger, "presence", wait=0.2, user_id=bob.user_id)
    profile = await stranger.request("GET", f"/users/{bob.user_id}")
    assert "last_seen" not in profile
    (listed,) = (await stranger.users([bob.user_id])).values()
    assert "last_seen" not in listed


async def test_users_are_looked_up_by_id(make_client: MakeClient) -> None:
    alice = await make_client(connect=False)
    bob = await make_client(connect=False)
    carol = await make_client(connect=False)
    found = await alice.request(
        "GET", "/users", params={"ids": f"{carol.user_id},{bob.user_id},999999,{bob.user_id}"}
    )
    assert [u["id"] for u in found["users"]] == [carol.user_id, bob.user_id]
    assert found["users"][1]["username"] == bob.user["username"]
    too_many = ",".join(str(n) for n in range(1, 102))
    for params in (
        {},
        {"ids": ""},
        {"ids": "1,x"},
        {"ids": "0"},
        {"ids": "1,,2"},
        {"ids": "-3"},
        {"ids": too_many},
        {"ids": str(2**63)},
        {"ids": "1", "q": "bo"},
    ):
        with pytest.raises(ApiError) as caught:
            await alice.request("GET", "/users", params=params)
        assert (caught.value.status, caught.value.code) == (422, "invalid_request"), params


async def test_an_embedded_restart_keeps_last_seen(tmp_path: Path) -> None:
    """Embedded, nothing outlives the process to settle presence after the grace period:
    a shutdown settles its users at once, and last seen is read from the database.
    (A cluster's workers settle a stopped gateway's users: the tests above.)"""
    server = start_embedded(data_dir=tmp_path, timeout=90)
    try:
        async with PigeonClient(server.http_url) as alice, PigeonClient(server.http_url) as bob:
            await alice.register(unique_name(), PASSWORD)
            await bob.register(unique_name(), PASSWORD)
            await make_friends(alice, bob)
            await bob.connect()
            before = int(time.time() * 1000)
        server.stop()
        after = int(time.time() * 1000)
        server = start_embedded(data_dir=tmp_path, timeout=90)
        async with PigeonClient(server.http_url) as alice_again:
            await alice_again.login(alice.user["username"], PASSWORD)
            found = await alice_again.presence([bob.user_id])
        seen = found[bob.user_id]["last_seen"]
        assert found[bob.user_id]["online"] is False
        assert seen is not None
        assert before <= seen <= after
    finally:
        server.stop()
