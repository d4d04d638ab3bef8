"""Steps many behaviour tests share: befriending users, making groups, awaiting events."""

from __future__ import annotations

from typing import Any

import pytest

from pigeon.client import ApiError, PigeonClient

Frame = dict[str, Any]


async def refused(client: PigeonClient, method: str, path: str, **kwargs: Any) -> ApiError:
    """The error the server answers this request with (the test fails if it succeeds)."""
    with pytest.raises(ApiError) as caught:
        await client.request(method, path, **kwargs)
    return caught.value


async def tip(client: PigeonClient, event: str) -> dict[str, Any]:
    """The next message must be a system tip about ``event``."""
    message: dict[str, Any] = await client.next_message()
    assert message["kind"] == "system", message
    assert message["body"]["event"] == event, message
    assert message["sender_id"] is None
    return message


def is_event(name: str, **data: Any) -> Any:
    """A predicate for ``wait_for``: an ``event`` frame called ``name`` whose data has
    these values."""

    def match(frame: Frame) -> bool:
        if frame.get("type") != "event" or frame.get("event") != name:
            return False
        return all(frame["data"].get(key) == value for key, value in data.items())

    return match


async def expect_event(
    client: PigeonClient, name: str, timeout: float = 5.0, **data: Any
) -> dict[str, Any]:
    """Wait for an event frame and return its data."""
    frame = await client.wait_for(is_event(name, **data), timeout=timeout)
    result: dict[str, Any] = frame["data"]
    return result


async def no_frame(client: PigeonClient, kind: str, wait: float = 0.3, **fields: Any) -> bool:
    """True if no frame of ``kind`` (with these fields) is waiting or arrives within
    ``wait`` seconds. Frames taken by an earlier ``wait_for`` do not count, so call it for
    ``event``, ``typing``, ``read``... after taking the expected ones; for messages use
    :func:`no_message`."""
    assert kind != "message", "message frames stay in the backlog: use no_message"

    def match(frame: Frame) -> bool:
        return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())

    try:
        await client.wait_for(match, timeout=wait)
    except TimeoutError:
        return True
    return False


async def no_message(client: PigeonClient, wait: float = 0.3) -> bool:
    """True if no new message (from someone else) reaches the client within ``wait``."""
    try:
        await client.next_message(timeout=wait)
    except TimeoutError:
        return True
    return False


async def make_friends(a: PigeonClient, b: PigeonClient) -> int:
    """Make two users friends; the events it causes are taken out of connected clients'
    frames so that tests see only their own. Returns their private conversation's id."""
    request = await a.request("POST", "/friends/requests", json={"user_id": b.user_id})
    await b.request("POST", f"/friends/requests/{request['id']}/accept")
    conversation_id = 0
    for client in (a, b):
        if client.connected:
            await expect_event(client, "friend_request", timeout=5)
            data = await expect_event(client, "friend_request_accepted", timeout=5)
            conversation_id = data["conversation_id"]
    if not conversation_id:
        opened = await a.request("POST", "/conversations/private", json={"user_id": b.user_id})
        conversation_id = opened["id"]
    return conversation_id


async def make_group(
    owner: PigeonClient, members: list[PigeonClient], name: str = "team", *, befriend: bool = True
) -> dict[str, Any]:
    """Create a group of ``owner`` and ``members`` (befriended first); each connected
    client has its ``group_created`` tip and event taken, so tests start from a clean slate."""
    if befriend:
        for member in members:
            await make_friends(owner, member)
    group: dict[str, Any] = await owner.request(
        "POST", "/groups", json={"name": name, "member_ids": [m.user_id for m in members]}
    )
    for client in (owner, *members):
        if client.connected:
            await expect_event(client, "group_updated", change="group_created")
            tip = await client.next_message()
            assert tip["body"]["event"] == "group_created"
    return group
