"""A member's own settings for a conversation: mute, pin to top, archive; the same on all
their devices, and every refusal with its code."""

from __future__ import annotations

import time

import pytest

from pigeon.client import ApiError
from pigeon.common.models import MUTED_FOREVER
from tests.conftest import MakeClient
from tests.helpers import expect_event, make_friends

pytestmark = pytest.mark.asyncio


async def test_settings_reach_every_device_and_order_the_list(make_client: MakeClient) -> None:
    alice, bob, carol = await make_client(), await make_client(), await make_client()
    with_bob = await make_friends(alice, bob)
    with_carol = await make_friends(alice, carol)
    await bob.send_text("older", conversation_id=with_bob)
    await carol.send_text("newer", conversation_id=with_carol)
    phone = await make_client(login_as=alice, device="mobile")

    listed = await alice.request("GET", "/conversations")
    assert [c["id"] for c in listed["conversations"]][:2] == [with_carol, with_bob]
    assert listed["conversations"][0]["settings"] == {
        "muted_until": 0,
        "count_when_muted": True,
        "pinned": False,
        "archived": False,
    }

    hour = int(time.time() * 1000) + 3_600_000
    changed = await alice.request(
        "PATCH",
        f"/conversations/{with_bob}/settings",
        json={"pinned": True, "muted_until": hour, "count_when_muted": False},
    )
    assert changed["settings"] == {
        "muted_until": hour,
        "count_when_muted": False,
        "pinned": True,
        "archived": False,
    }
    for device in (alice, phone):
        data = await expect_event(device, "conversation_settings", timeout=5)
        assert data["conversation_id"] == with_bob
        assert data["pinned"]
        assert data["muted_until"] == hour
    listed = await phone.request("GET", "/conversations")
    assert [c["id"] for c in listed["conversations"]][:2] == [with_bob, with_carol]
    # Bob's view is his own.
    his = await bob.request("GET", f"/conversations/{with_bob}")
    assert not his["settings"]["pinned"]

    # Mute forever, archive, and back; a time already past unmutes.
    forever = await alice.request(
        "PATCH", f"/conversations/{with_carol}/settings", json={"muted_until": MUTED_FOREVER}
    )
    assert forever["settings"]["muted_until"] == MUTED_FOREVER
    archived = await alice.request(
        "PATCH", f"/conversations/{with_carol}/settings", json={"archived": True, "muted_until": 1}
    )
    assert archived["settings"]["archived"]
    assert archived["settings"]["muted_until"] == 0
    # Unread still counts while muted or archived: the badge is the client's choice.
    await carol.send_text("still counted", conversation_id=with_carol)
    again = await alice.request("GET", f"/conversations/{with_carol}")
    assert again["unread"] == 2


async def test_settings_refusals(make_client: MakeClient) -> None:
    alice, bob = await make_client(), await make_client()
    await make_friends(alice, bob)
    outsider = await make_client()
    conversation = (await alice.request("GET", "/conversations"))["conversations"][0]["id"]

    with pytest.raises(ApiError) as caught:
        await outsider.request("PATCH", f"/conversations/{conversation}/settings", json={})
    assert (caught.value.status, caught.value.code) == (403, "not_member")
    for bad in ({"muted_until": -5}, {"pinned": "maybe"}, {"colour": "red"}):
        with pytest.raises(ApiError) as caught:
            await alice.request("PATCH", f"/conversations/{conversation}/settings", json=bad)
        assert (caught.value.status, caught.value.code) == (422, "invalid_request")

    # At most five pinned (the default).
    others = [await make_client() for _ in range(5)]
    ids = [await make_friends(alice, other) for other in others]
    for cid in ids:
        await alice.request("PATCH", f"/conversations/{cid}/settings", json={"pinned": True})
    with pytest.raises(ApiError) as caught:
        await alice.request(
            "PATCH", f"/conversations/{conversation}/settings", json={"pinned": True}
        )
    assert (caught.value.status, caught.value.code) == (409, "too_many_pinned")
    # Pinning one already pinned is no new pin: accepted at the cap, and still pinned.
    again = await alice.request("PATCH", f"/conversations/{ids[0]}/settings", json={"pinned": True})
    assert again["settings"]["pinned"]
