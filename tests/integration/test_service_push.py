"""Server push API: trusted backends push private, group and system messages and events,
learn who was online, and follow offline recipients' later sync on the delivery stream."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import httpx
import pytest

from pigeon.client import ApiError, PigeonClient, ServiceClient
from tests.harness import start_embedded

PASSWORD = "Tawny-Otter-Lamp-42"
SERVICE_KEY = "svc-" + secrets.token_urlsafe(24)
OTHER_KEY = "svc-" + secrets.token_urlsafe(24)
Make = Callable[..., Awaitable[PigeonClient]]


class Server(Protocol):
    """An embedded server or a cluster: where clients reach it, and what it logged."""

    @property
    def http_url(self) -> str: ...

    @property
    def ws_url(self) -> str: ...

    def log(self) -> str: ...

    def stop(self) -> None: ...


@pytest.fixture(scope="module")
def push_server() -> Iterator[Server]:
    """A server with two service keys configured (the shared one has none): embedded, or
    with ``PIGEON_TEST_MODE=cluster`` two gateways and two API servers."""
    env = {
        "PIGEON_AUTH__SERVICE_KEYS": json.dumps([OTHER_KEY, SERVICE_KEY]),
        "PIGEON_GATEWAY__RATE_PER_S": "1000",
        "PIGEON_GATEWAY__RATE_BURST": "2000",
    }
    process: Server
    if os.environ.get("PIGEON_TEST_MODE", "embedded") == "cluster":
        from tests.cluster.harness import start_cluster

        process = start_cluster(gateways=2, platforms=2, env=env)
    else:
        process = start_embedded(env)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def make(push_server: Server) -> AsyncIterator[Make]:
    clients: list[PigeonClient] = []

    async def build(*, connect: bool = True) -> PigeonClient:
        # ws_url: in cluster mode each call gives the next gateway.
        client = PigeonClient(push_server.http_url, ws_url=push_server.ws_url)
        clients.append(client)
        await client.register(f"s{uuid.uuid4().hex[:10]}", PASSWORD)
        if connect:
            await client.connect()
        return client

    yield build
    for client in clients:
        await client.close()


@pytest.fixture
async def svc(push_server: Server) -> AsyncIterator[ServiceClient]:
    async with ServiceClient(push_server.http_url, SERVICE_KEY) as client:
        yield client


async def message_where(
    client: PigeonClient, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5
) -> dict[str, Any]:
    """The next new message matching ``predicate`` (tips before it are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await client.next_message(timeout=max(0.01, deadline - loop.time()))
        if predicate(message):
            return message


async def no_message_where(
    client: PigeonClient, predicate: Callable[[dict[str, Any]], bool], wait: float = 0.5
) -> bool:
    try:
        await message_where(client, predicate, timeout=wait)
    except TimeoutError:
        return True
    return False


async def befriend(a: PigeonClient, b: PigeonClient) -> None:
    request = await a.request("POST", "/friends/requests", json={"user_id": b.user_id})
    await b.request("POST", f"/friends/requests/{request['id']}/accept")


async def until_offline(svc: ServiceClient, user_id: int) -> None:
    """Wait until no socket of the user is registered anywhere (closing is asynchronous)."""
    for _ in range(100):
        result = await svc.notify([user_id], "test.probe")
        if result["recipients"][str(user_id)] == "offline":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"user {user_id} still looks online")


async def stream_until(
    svc: ServiceClient, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    """Read the delivery stream from the start until an entry matches."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        after = 0
        while True:
            page = await svc.deliveries(after=after, limit=500)
            entries: list[dict[str, Any]] = page["deliveries"]
            for entry in entries:
                if predicate(entry):
                    return entry
            after = page["next"]
            if not page["has_more"]:
                break
        await asyncio.sleep(0.1)
    raise AssertionError("no matching entry on the delivery stream")


# --- authentication ---------------------------------------------------------------------


async def test_missing_wrong_and_user_keys_are_refused(push_server: Server, make: Make) -> None:
    user = await make(connect=False)
    url = push_server.http_url + "/api/v1/service/notify"
    body = {"user_ids": [user.user_id], "event": "test.hello", "data": {}}
    async with httpx.AsyncClient() as http:
        for headers in (
            {},
            {"Authorization": "Bearer not-the-key"},
            {"Authorization": f"Bearer {SERVICE_KEY}x"},
            {"X-Pigeon-Service-Key": SERVICE_KEY[:-1]},
            {"Authorization": f"Bearer {user.access_token}"},
            {"Authorization": f"Basic {SERVICE_KEY}"},
        ):
            response = await http.post(url, json=body, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthorized"
        deliveries = await http.get(push_server.http_url + "/api/v1/service/deliveries")
        assert deliveries.status_code == 401
        # Either header works, and every configured key does.
        for headers in (
            {"X-Pigeon-Service-Key": SERVICE_KEY},
            {"Authorization": f"Bearer {OTHER_KEY}"},
        ):
            response = await http.post(url, json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["recipients"] == {str(user.user_id): "offline"}
    with pytest.raises(ApiError) as refused:
        async with ServiceClient(push_server.http_url, "wrong") as bad:
            await bad.notify([user.user_id], "test.hello")
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    assert "service_auth_refused" in push_server.log()


# --- private messages -------------------------------------------------------------------


async def test_private_push_reaches_online_user_and_says_so(make: Make, svc: ServiceClient) -> None:
    sender = await make(connect=False)
    receiver = await make()
    # Not friends: a trusted backend may still send on the sender's behalf.
    result = await svc.send_private(sender.user_id, receiver.user_id, "text", {"text": "hi"})
    assert result["duplicate"] is False
    assert result["recipients"] == {str(receiver.user_id): "online"}
    ack = result["ack"]
    assert ack["seq"] >= 1
    assert ack["message_id"] > 0
    message = await message_where(receiver, lambda m: m["id"] == ack["message_id"])
    assert message["sender_id"] == sender.user_id
    assert message["body"] == {"text": "hi"}
    assert message["conversation_id"] == ack["conversation_id"]
    # The sender sees it in the conversation's history like any message of theirs.
    history = await sender.request("GET", f"/conversations/{ack['conversation_id']}/messages")
    assert [m["id"] for m in history["messages"]][-1] == ack["message_id"]
    entry = await stream_until(
        svc, lambda e: e["message_id"] == ack["message_id"] and e["user_id"] == receiver.user_id
    )
    assert entry["status"] == "online"


async def test_friendship_is_lifted_for_the_push_only_not_for_users_sending_beside_it(
    make: Make, svc: ServiceClient
) -> None:
    # Users' sends and service pushes share the server's group commit: the lifted rule must
    # travel with the push, not with whichever send made the batch.
    friend_a, friend_b = await make(), await make()
    await befriend(friend_a, friend_b)
    await friend_a.send_text("warm", to_user_id=friend_b.user_id)
    sender, receiver = await make(), await make()
    pushed = await svc.send_private(sender.user_id, receiver.user_id, "text", {"text": "hi"})
    assert pushed["recipients"] == {str(receiver.user_id): "online"}
    stranger = await make()
    with pytest.raises(ApiError) as refused:
        await stranger.send_text("hello?", to_user_id=receiver.user_id)
    assert refused.value.code == "not_friends"


async def test_offline_user_is_reported_and_its_later_sync_is_streamed(
    push_server: Server, make: Make, svc: ServiceClient
) -> None:
    sender = await make(connect=False)
    receiver = await make()
    await receiver.close()
    await until_offline(svc, receiver.user_id)
    result = await svc.send_private(
        sender.user_id, receiver.user_id, "text", {"text": "while you were away"}
    )
    assert result["recipients"] == {str(receiver.user_id): "offline"}
    message_id = result["ack"]["message_id"]

    def about(status: str) -> Callable[[dict[str, Any]], bool]:
        return lambda e: (
            e["message_id"] == message_id
            and e["user_id"] == receiver.user_id
            and e["status"] == status
        )

    offline = await stream_until(svc, about("offline"))
    await asyncio.sleep(0.3)
    page = await svc.deliveries(after=offline["cursor"] - 1, limit=1000)
    assert not any(about("synced")(e) for e in page["deliveries"]), "synced before any sync"

    again = PigeonClient(push_server.http_url, ws_url=push_server.ws_url)
    try:
        await again.login(receiver.user["username"], PASSWORD)
        await again.connect()  # syncs every conversation
        got = await message_where(again, lambda m: m["id"] == message_id)
        assert got["body"] == {"text": "while you were away"}
        synced = await stream_until(svc, about("synced"))
    finally:
        await again.close()
    assert synced["cursor"] > offline["cursor"]
    assert synced["seq"] == result["ack"]["seq"]
    assert synced["pushed_at"] <= synced["ts"]
    # Reported once, however often the user syncs again.
    third = PigeonClient(push_server.http_url, ws_url=push_server.ws_url)
    try:
        await third.login(receiver.user["username"], PASSWORD)
        await third.connect()
        await message_where(third, lambda m: m["id"] == message_id)
    finally:
        await third.close()
    await asyncio.sleep(0.3)
    everything = await svc.deliveries(after=0, limit=1000)
    while everything["has_more"]:
        more = await svc.deliveries(after=everything["next"], limit=1000)
        everything = {**more, "deliveries": everything["deliveries"] + more["deliveries"]}
    assert sum(1 for e in everything["deliveries"] if about("synced")(e)) == 1


async def test_private_push_is_idempotent(make: Make, svc: ServiceClient) -> None:
    sender = await make(connect=False)
    receiver = await make()
    client_msg_id = uuid.uuid4().hex
    first = await svc.send_private(
        sender.user_id, receiver.user_id, "text", {"text": "once"}, client_msg_id=client_msg_id
    )
    second = await svc.send_private(
        sender.user_id, receiver.user_id, "text", {"text": "once"}, client_msg_id=client_msg_id
    )
    assert second["ack"] == first["ack"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["recipients"] == first["recipients"] == {str(receiver.user_id): "online"}
    await message_where(receiver, lambda m: m["client_msg_id"] == client_msg_id)
    assert await no_message_where(receiver, lambda m: m["client_msg_id"] == client_msg_id)
    history = await receiver.request(
        "GET", f"/conversations/{first['ack']['conversation_id']}/messages"
    )
    assert [m["client_msg_id"] for m in history["messages"]].count(client_msg_id) == 1


async def test_block_holds_and_bad_requests_are_refused(make: Make, svc: ServiceClient) -> None:
    sender = await make(connect=False)
    receiver = await make(connect=False)
    await receiver.request("POST", f"/blocks/{sender.user_id}")
    with pytest.raises(ApiError) as blocked:
        await svc.send_private(sender.user_id, receiver.user_id, "text", {"text": "hi"})
    assert (blocked.value.status, blocked.value.code) == (403, "blocked")

    with pytest.raises(ApiError) as unknown:
        await svc.send_private(sender.user_id, 2**40, "text", {"text": "hi"})
    assert (unknown.value.status, unknown.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as unknown_sender:
        await svc.send_private(2**40, receiver.user_id, "text", {"text": "hi"})
    assert unknown_sender.value.status == 404

    bad_requests: list[tuple[str, dict[str, Any]]] = [
        ("/messages/private", {"from_user_id": sender.user_id, "to_user_id": receiver.user_id}),
        (
            "/messages/private",
            {
                "from_user_id": sender.user_id,
                "to_user_id": receiver.user_id,
                "client_msg_id": "x",
                "kind": "system",
                "body": {"tip": "no"},
            },
        ),
        (
            "/messages/private",
            {
                "from_user_id": sender.user_id,
                "to_user_id": receiver.user_id,
                "client_msg_id": "x",
                "body": {"text": "   "},
            },
        ),
        (
            "/messages/private",
            {
                "from_user_id": sender.user_id,
                "to_user_id": sender.user_id,
                "client_msg_id": "x",
                "body": {"text": "me"},
            },
        ),
        (
            "/messages/private",
            {
                "from_user_id": "me",
                "to_user_id": receiver.user_id,
                "client_msg_id": "x",
                "body": {"text": "hi"},
                "extra": 1,
            },
        ),
        ("/notify", {"user_ids": [receiver.user_id], "event": "friend_added", "data": {}}),
        ("/notify", {"user_ids": [], "event": "shop.thing", "data": {}}),
        (
            "/notify",
            {"user_ids": [receiver.user_id], "event": "shop.big", "data": {"x": "y" * 9000}},
        ),
        ("/messages/group", {"group_id": 1, "client_msg_id": "x", "body": {}}),
    ]
    for path, body in bad_requests:
        with pytest.raises(ApiError) as invalid:
            await svc._call("POST", path, body)
        assert (invalid.value.status, invalid.value.code) == (422, "invalid_request"), body
    with pytest.raises(ApiError) as bad_cursor:
        await svc.deliveries(after=-1)
    assert bad_cursor.value.code == "invalid_request"


# --- groups and system messages ---------------------------------------------------------


async def test_group_push_as_member_and_as_system(make: Make, svc: ServiceClient) -> None:
    owner = await make(connect=False)
    online = await make()
    away = await make(connect=False)
    outsider = await make(connect=False)
    for member in (online, away):
        await befriend(owner, member)
    group = await owner.request(
        "POST", "/groups", json={"name": "ops", "member_ids": [online.user_id, away.user_id]}
    )
    group_id = group["id"]

    result = await svc.send_group(group_id, {"text": "deploy at 5"}, from_user_id=owner.user_id)
    assert result["recipients"] == {str(online.user_id): "online", str(away.user_id): "offline"}
    ack = result["ack"]
    got = await message_where(online, lambda m: m["id"] == ack["message_id"])
    assert (got["sender_id"], got["body"], got["conversation_id"]) == (
        owner.user_id,
        {"text": "deploy at 5"},
        group_id,
    )

    system_id = uuid.uuid4().hex
    tip = {"tip": "Maintenance tonight at 23:00", "event": "ops.maintenance", "window": "23-24"}
    first = await svc.send_group(group_id, tip, client_msg_id=system_id)
    assert first["duplicate"] is False
    assert first["recipients"] == {
        str(owner.user_id): "offline",
        str(online.user_id): "online",
        str(away.user_id): "offline",
    }
    system = await message_where(online, lambda m: m["id"] == first["ack"]["message_id"])
    assert system["kind"] == "system"
    assert system["sender_id"] is None
    assert system["body"]["tip"] == "Maintenance tonight at 23:00"
    assert system["body"]["window"] == "23-24"
    assert system["seq"] == ack["seq"] + 1
    retry = await svc.send_group(group_id, tip, client_msg_id=system_id)
    assert retry["duplicate"] is True
    assert retry["ack"] == first["ack"]
    assert retry["recipients"] == first["recipients"]
    assert await no_message_where(online, lambda m: m["client_msg_id"] == system_id)

    def with_id(wanted: int) -> Callable[[dict[str, Any]], bool]:
        return lambda m: m["id"] == wanted

    def synced_by_away(wanted: int) -> Callable[[dict[str, Any]], bool]:
        return lambda e: (
            e["message_id"] == wanted and e["user_id"] == away.user_id and e["status"] == "synced"
        )

    # The member who was away syncs both on connect; the stream says so.
    await away.connect()
    for message_id in (ack["message_id"], first["ack"]["message_id"]):
        await message_where(away, with_id(message_id))
        await stream_until(svc, synced_by_away(message_id))

    with pytest.raises(ApiError) as not_member:
        await svc.send_group(group_id, {"text": "let me in"}, from_user_id=outsider.user_id)
    assert (not_member.value.status, not_member.value.code) == (403, "not_member")
    with pytest.raises(ApiError) as no_group:
        await svc.send_group(2**40, {"tip": "nobody"})
    assert (no_group.value.status, no_group.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as no_tip:
        await svc.send_group(group_id, {"text": "system without a tip"})
    assert (no_tip.value.status, no_tip.value.code) == (422, "invalid_request")


async def test_group_push_to_a_hot_group_reports_each_recipient(
    make: Make, svc: ServiceClient
) -> None:
    owner = await make(connect=False)
    online = await make()
    away = await make(connect=False)
    for member in (online, away):
        await befriend(owner, member)
    group = await owner.request(
        "POST", "/groups", json={"name": "town", "member_ids": [online.user_id, away.user_id]}
    )
    group_id = group["id"]
    marked = await owner.request("PATCH", f"/groups/{group_id}", json={"hot": True})
    assert marked["hot"] is True

    result = await svc.send_group(group_id, {"text": "all hands"}, from_user_id=owner.user_id)
    assert result["duplicate"] is False
    assert result["recipients"] == {str(online.user_id): "online", str(away.user_id): "offline"}
    ack = result["ack"]
    # Push + pull: the online member gets a notice and the SDK pulls the message.
    got = await message_where(online, lambda m: m["id"] == ack["message_id"])
    assert got["body"] == {"text": "all hands"}

    def reported(user_id: int, status: str) -> Callable[[dict[str, Any]], bool]:
        return lambda e: (
            e["message_id"] == ack["message_id"]
            and e["user_id"] == user_id
            and e["status"] == status
        )

    for user_id, status in ((online.user_id, "online"), (away.user_id, "offline")):
        await stream_until(svc, reported(user_id, status))
    retry = await svc.send_group(
        group_id,
        {"text": "all hands"},
        from_user_id=owner.user_id,
        client_msg_id=ack["client_msg_id"],
    )
    assert (retry["duplicate"], retry["ack"], retry["recipients"]) == (
        True,
        ack,
        result["recipients"],
    )


# --- notifications ----------------------------------------------------------------------


async def test_notify_pushes_an_event_to_connected_users_only(
    make: Make, svc: ServiceClient
) -> None:
    online = await make()
    away = await make(connect=False)
    data = {"order": 42, "status": "shipped"}
    result = await svc.notify([online.user_id, away.user_id], "shop.order_shipped", data)
    assert result["ack"] is None
    assert result["recipients"] == {str(online.user_id): "online", str(away.user_id): "offline"}
    frame = await online.wait_for(
        lambda f: f["type"] == "event" and f["event"] == "shop.order_shipped", timeout=5
    )
    assert frame["data"] == data
    with pytest.raises(ApiError) as unknown:
        await svc.notify([online.user_id, 2**40], "shop.order_shipped")
    assert (unknown.value.status, unknown.value.code) == (404, "not_found")
    assert str(2**40) in unknown.value.message
