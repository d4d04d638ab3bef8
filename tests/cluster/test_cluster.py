"""Three gateways and two API servers on PostgreSQL + Redis: routing across gateways,
multi-device, force-logout, presence, bad input and the operations endpoints."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from pigeon.client import ApiError
from tests.cluster.common import (
    close_code,
    holds,
    live_gateway_ids,
    presence_of,
    raw_socket,
    recv_until,
    seqs,
    users,
    wait_until,
)
from tests.cluster.harness import ClusterProcess
from tests.helpers import make_friends, no_frame

pytestmark = [pytest.mark.asyncio, pytest.mark.cluster]


async def test_discovery_returns_every_live_gateway(cluster: ClusterProcess) -> None:
    seen = await live_gateway_ids(cluster)
    assert seen == {"gw1", "gw2", "gw3"}
    async with httpx.AsyncClient() as http:
        found = (await http.get(cluster.platforms[1].url + "/api/v1/gateway")).json()
    assert found["url"] == cluster.gateway(found["gateway_id"]).url


async def test_users_on_different_gateways_chat(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        alice = await make("gw1", api=0)
        bob = await make("gw2", api=1)
        conversation = await make_friends(alice, bob)
        for i in range(15):
            await alice.send_text(f"a{i}", conversation_id=conversation)
            await bob.send_text(f"b{i}", conversation_id=conversation)
        await wait_until(lambda: len(seqs(bob, conversation)) == 30, 10, "bob has all 30")
        await wait_until(lambda: len(seqs(alice, conversation)) == 30, 10, "alice has all 30")
        assert seqs(bob, conversation) == list(range(1, 31))
        assert seqs(alice, conversation) == list(range(1, 31))
        texts = [m["body"]["text"] for m in bob.messages[conversation]]
        assert texts[:4] == ["a0", "b0", "a1", "b1"]


async def test_one_user_on_two_gateways_gets_everything_on_both(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        alice = await make("gw1")
        bob_web = await make("gw2", device="web")
        bob_desk = await make("gw3", device="desktop", login_as=bob_web, api=1)
        conversation = await make_friends(alice, bob_web)
        for i in range(10):
            await alice.send_text(f"m{i}", conversation_id=conversation)
        await bob_web.send_text("from web", conversation_id=conversation)
        for device in (bob_web, bob_desk, alice):
            await wait_until(holds(device, conversation, 11), 10, "11 messages everywhere")
            assert seqs(device, conversation) == list(range(1, 12))
        # The sender's other device got the message it sent as a push.
        assert bob_desk.messages[conversation][-1]["body"] == {"text": "from web"}


async def test_two_devices_of_one_kind_on_different_gateways_both_stay(
    cluster: ClusterProcess,
) -> None:
    async with users(cluster) as make:
        first = await make("gw1", device="mobile")
        second = await make("gw3", device="mobile", login_as=first, api=1)
        friend = await make("gw2")
        conversation = await make_friends(friend, second)
        await friend.send_text("both of you?", conversation_id=conversation)
        for phone in (first, second):
            message = await phone.next_message(timeout=5)
            assert message["body"] == {"text": "both of you?"}
        assert first.connected
        assert second.connected
        assert first.kicked is None


async def test_log_out_a_device_on_another_gateway(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        keeper = await make("gw1")
        lost = await make("gw3", device="desktop", login_as=keeper, api=1)
        await keeper.log_out_device(lost.device_id)
        kicked = await lost.wait_for(lambda f: f["type"] == "kicked", timeout=5)
        assert kicked["reason"] == "device_logged_out"
        await wait_until(lambda: not lost.connected, 5, "the logged-out socket closed")
        assert keeper.connected


async def test_logout_closes_the_socket_on_another_gateway(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        user = await make("gw2")
        await user.request("POST", "/auth/logout", json={"refresh_token": user.refresh_token})
        kicked = await user.wait_for(lambda f: f["type"] == "kicked", timeout=5)
        assert kicked["reason"] == "session_revoked"


async def test_presence_across_gateways(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        alice = await make("gw1")
        bob = await make("gw2", connect=False)
        stranger = await make("gw3")
        await make_friends(alice, bob)
        await bob.connect()
        await alice.wait_for(presence_of(bob.user_id, True, ["web"]), timeout=5)
        phone = await make("gw3", device="mobile", login_as=bob, api=1)
        await alice.wait_for(presence_of(bob.user_id, True, ["mobile", "web"]), timeout=5)
        found = await alice.request("POST", "/presence/query", json={"user_ids": [bob.user_id]})
        assert found["presence"][str(bob.user_id)] == {
            "online": True,
            "devices": ["mobile", "web"],
            "last_seen": None,
        }
        # Not a friend: no frames, and presence/query leaves them out.
        assert await no_frame(stranger, "presence", wait=0.3)
        hidden = await stranger.request("POST", "/presence/query", json={"user_ids": [bob.user_id]})
        assert hidden == {"presence": {}}
        # A quick reconnect within the grace period announces nothing.
        await phone.drop_connection()
        await wait_until(lambda: phone.connected, 5, "the phone reconnected")
        assert await no_frame(alice, "presence", wait=1.5, user_id=bob.user_id)
        await bob.close()
        await alice.wait_for(presence_of(bob.user_id, True, ["mobile"]), timeout=5)
        await phone.close()
        went = await alice.wait_for(presence_of(bob.user_id, False, []), timeout=5)
        found = await alice.request("POST", "/presence/query", json={"user_ids": [bob.user_id]})
        assert found["presence"][str(bob.user_id)] == {
            "online": False,
            "devices": [],
            "last_seen": went["last_seen"],
        }
        assert went["last_seen"] > 0


async def test_bad_input_through_the_cluster(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        owner = await make("gw1")
        other = await make("gw2")
        conversation = await make_friends(owner, other)
        intruder = await make("gw1", connect=False)
        ws = await raw_socket(cluster.gateway("gw3").url, intruder.access_token)
        await ws.send("{not json")
        assert (await recv_until(ws, lambda f: f["type"] == "error"))["code"] == "bad_json"
        await ws.send(json.dumps({"type": "teleport"}))
        assert (await recv_until(ws, lambda f: f["type"] == "error"))["code"] == "unknown_type"
        await ws.send(
            json.dumps(
                {
                    "type": "send",
                    "ref": "x",
                    "client_msg_id": "c1",
                    "conversation_id": conversation,
                    "kind": "text",
                    "body": {"text": "let me in"},
                }
            )
        )
        refused = await recv_until(ws, lambda f: f["type"] == "error")
        assert (refused["ref"], refused["code"]) == ("x", "not_member")
        await ws.send("x" * (200 * 1024))
        assert await close_code(ws) == 1009
        # Nothing leaked to the members, and the gateway still serves them.
        assert len(seqs(other, conversation)) == 0
        await owner.send_text("fine", conversation_id=conversation)
        assert (await other.next_message(timeout=5))["body"] == {"text": "fine"}
        with pytest.raises(ApiError) as caught:
            await other.request("POST", "/presence/query", json={"user_ids": "all"})
        assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    bad = await raw_socket_refused(cluster.gateway("gw2").url)
    assert bad == 4001


async def raw_socket_refused(url: str) -> int | None:
    from websockets.asyncio.client import connect

    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "forged", "device": "web"}))
        return await close_code(ws)


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing")


async def test_every_process_serves_health_readiness_and_metrics(cluster: ClusterProcess) -> None:
    # Earlier tests of this module sent messages through every gateway.
    stored: dict[str, float] = {}
    lag: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        for member in cluster.members:
            base = member.http_url
            assert (await http.get(base + "/healthz")).status_code == 200, member
            assert (await http.get(base + "/readyz")).json() == {"status": "ready"}, member
            metrics = (await http.get(base + "/metrics")).text
            assert 'pigeon_http_requests_total{status="200"}' in metrics, member
            assert "pigeon_http_request_seconds_bucket" in metrics
            if member.kind == "gateway":
                assert "pigeon_queue_length" in metrics
                assert "pigeon_queue_lag_seconds_bucket" in metrics
                stored[member.name] = metric_value(metrics, "pigeon_messages_stored_total")
                lag[member.name] = metric_value(metrics, "pigeon_queue_lag_seconds_count")
            if member.kind == "worker":
                assert 'pigeon_worker_items_total{worker="presence"}' in metrics
        assert sum(stored.values()) > 0, stored
        assert all(count > 0 for count in lag.values()), lag
        # The API servers do not serve sockets; gateways do not serve the API.
        gateway = cluster.gateway("gw1").http_url
        assert (await http.get(gateway + "/api/v1/gateway")).status_code == 404


async def test_queue_entries_are_consumed(cluster: ClusterProcess) -> None:
    """After traffic, every gateway's stream is empty again (entries acked and deleted)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(cluster.redis_url)
    try:
        await asyncio.sleep(0.5)
        for name in ("gw1", "gw2", "gw3"):
            key = f"{cluster.redis_prefix}:unread:{{{name}}}"
            assert await client.xlen(key) == 0, name
    finally:
        await client.aclose()
