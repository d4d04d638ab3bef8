"""Gateways dying while messages flow: ``kill -9`` and a graceful SIGTERM.

The tests share one cluster and run in order: the first kills gw3, the second stops gw2.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis.asyncio as aioredis

from pigeon.client import PigeonClient
from tests.cluster.common import (
    live_gateway_ids,
    presence_of,
    raw_socket,
    seqs,
    users,
    wait_until,
)
from tests.cluster.harness import ClusterProcess
from tests.helpers import make_friends

pytestmark = [pytest.mark.asyncio, pytest.mark.cluster]


async def stream(
    sender: PigeonClient, conversation: int, count: int, acked: list[dict[str, object]]
) -> None:
    for i in range(count):
        acked.append(await sender.send_text(f"m{i}", conversation_id=conversation))
        await asyncio.sleep(0.02)


def assert_exactly_once_in_order(
    receiver: PigeonClient, conversation: int, acked: list[dict[str, object]]
) -> None:
    expected = sorted(int(str(a["seq"])) for a in acked)
    assert expected == list(range(1, len(acked) + 1)), "seqs were reused or skipped"
    got = receiver.messages[conversation]
    assert [m["seq"] for m in got] == expected
    assert len({m["id"] for m in got}) == len(got)
    assert [m["body"]["text"] for m in got] == [f"m{i}" for i in range(len(acked))]


async def test_kill_9_a_gateway_while_messages_flow(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        alice = await make("gw1")  # sends to bob, who sits on the doomed gateway
        bob = await make("gw3")
        dave = await make("gw3")  # sends from the doomed gateway to erin
        erin = await make("gw2")
        carol = await make("gw1", connect=False)  # vanishes with gw3, never reconnects
        to_bob = await make_friends(alice, bob)
        to_erin = await make_friends(dave, erin)
        await make_friends(alice, carol)
        carol_socket = await raw_socket(cluster.gateway("gw3").url, carol.access_token)
        await alice.wait_for(presence_of(carol.user_id, True), timeout=5)

        acked_bob: list[dict[str, object]] = []
        acked_erin: list[dict[str, object]] = []
        flows = [
            asyncio.create_task(stream(alice, to_bob, 80, acked_bob)),
            asyncio.create_task(stream(dave, to_erin, 80, acked_erin)),
        ]
        await wait_until(lambda: len(acked_bob) >= 20, 10, "traffic to flow")
        cluster.gateway("gw3").kill()
        killed_at = time.monotonic()
        await asyncio.gather(*flows)

        await wait_until(lambda: len(seqs(bob, to_bob)) == 80, 30, "bob to have all 80")
        await wait_until(lambda: len(seqs(erin, to_erin)) == 80, 30, "erin to have all 80")
        assert_exactly_once_in_order(bob, to_bob, acked_bob)
        assert_exactly_once_in_order(erin, to_erin, acked_erin)
        assert bob.reconnects >= 1
        assert dave.reconnects >= 1
        assert cluster.gateway("gw3").url not in (bob.ws_url, dave.ws_url)

        # Carol's gateway died with her socket: friends see her offline, in bounded time.
        await alice.wait_for(presence_of(carol.user_id, False, []), timeout=15)
        assert time.monotonic() - killed_at < 12
        await carol_socket.close()
        assert await live_gateway_ids(cluster) == {"gw1", "gw2"}

        # The janitor removed the dead gateway's queue and registry index.
        client = aioredis.Redis.from_url(cluster.redis_url)
        try:
            prefix = cluster.redis_prefix
            assert not await client.exists(f"{prefix}:unread:{{gw3}}")
            assert not await client.exists(f"{prefix}:gwusers:{{gw3}}")
        finally:
            await client.aclose()


async def test_sigterm_drains_a_gateway_and_clients_move(cluster: ClusterProcess) -> None:
    async with users(cluster) as make:
        alice = await make("gw1")
        frank = await make("gw2")
        conversation = await make_friends(alice, frank)
        await alice.send_text("before", conversation_id=conversation)
        await frank.next_message(timeout=5)
        cluster.gateway("gw2").terminate()
        farewell = await frank.wait_for(lambda f: f["type"] == "reconnect", timeout=10)
        assert farewell["reason"] == "server_shutdown"
        await wait_until(
            lambda: frank.connected and frank.ws_url == cluster.gateway("gw1").url,
            15,
            "frank to reconnect to gw1",
        )
        await alice.send_text("after", conversation_id=conversation)
        assert (await frank.next_message(timeout=5))["body"] == {"text": "after"}
        # A drained gateway leaves at once, without waiting for its liveness to expire.
        async with httpx.AsyncClient() as http:
            for _ in range(10):
                found = (await http.get(cluster.http_url + "/api/v1/gateway")).json()
                assert found["gateway_id"] == "gw1"
