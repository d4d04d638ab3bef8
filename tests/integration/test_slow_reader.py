"""A client that asks for pages and reads none of them: its output is bounded in bytes,
its requests stop being read, and it is closed with 4009 while its neighbours carry on."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pigeon.client import PigeonClient
from tests.conftest import PASSWORD, unique_name
from tests.harness import ServerProcess, start_embedded

pytestmark = pytest.mark.asyncio

SLOW = {
    "PIGEON_GATEWAY__SEND_QUEUE_BYTES": str(256 * 1024),
    "PIGEON_GATEWAY__SEND_STALL_TIMEOUT_S": "2",
    "PIGEON_GATEWAY__RATE_PER_S": "1000",
    "PIGEON_GATEWAY__RATE_BURST": "2000",
    "PIGEON_MESSAGING__REQUIRE_FRIENDSHIP": "false",
}


@pytest.fixture(scope="module")
def slow_server() -> Iterator[ServerProcess]:
    process = start_embedded(SLOW)
    try:
        yield process
    finally:
        process.stop()


async def test_a_client_that_does_not_read_is_closed_with_4009(
    slow_server: ServerProcess,
) -> None:
    async with (
        PigeonClient(slow_server.http_url) as alice,
        PigeonClient(slow_server.http_url, device="desktop") as bob,
    ):
        await alice.register(unique_name(), PASSWORD)
        await bob.register(unique_name(), PASSWORD)
        await alice.connect()
        await bob.connect()
        ack = await alice.send_text("x" * 4000, to_user_id=bob.user_id)
        conversation_id = ack["conversation_id"]
        for _ in range(99):
            await alice.send_text("x" * 4000, conversation_id=conversation_id)

        async with PigeonClient(slow_server.http_url, device="web") as web:
            await web.login(bob.user["username"], PASSWORD)
            token = web.access_token
        # max_queue=1: the client library stops reading the socket, as a stuck app would;
        # a small receive buffer keeps the kernel from soaking up what the server sends.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(("127.0.0.1", urlsplit(slow_server.http_url).port or 0))
        slow = await connect(slow_server.ws_url, sock=sock, max_queue=1, max_size=None)
        await slow.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await slow.recv())["type"] == "hello"
        sync = json.dumps({"type": "sync", "conversation_id": conversation_id, "limit": 200})
        syncs = 400  # pages of ~400 kB: far more than the socket buffers hold
        for _ in range(syncs):
            await slow.send(sync)

        # The neighbour (same user, another device) is served meanwhile, and the server
        # drops the socket that reads nothing (stall timeout 2 s, then the close grace).
        await neighbour_is_served(alice, bob, conversation_id)
        assert await connections_fall_to(slow_server, 2, within=30)
        # Now read: what was buffered, then the end (its close frame, if it got through).
        pages = await pages_until_closed(slow)
        assert pages < syncs // 2  # the rest was never fetched: reading had stopped
        assert slow.close_code in (4009, 1006)
        assert "Traceback" not in slow_server.log()
        await neighbour_is_served(alice, bob, conversation_id)


async def connections_fall_to(server: ServerProcess, count: int, within: float) -> bool:
    """Whether the server's count of authenticated sockets falls to ``count`` in time."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        while time.monotonic() < deadline:
            for line in (await http.get("/metrics")).text.splitlines():
                if line.startswith("pigeon_connections ") and float(line.split()[1]) <= count:
                    return True
            await asyncio.sleep(0.2)
    return False


async def pages_until_closed(ws: ClientConnection) -> int:
    """How many ``messages`` frames arrive before the server's close."""
    pages = 0
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            pages += frame["type"] == "messages"
    except ConnectionClosed:
        return pages


async def neighbour_is_served(alice: PigeonClient, bob: PigeonClient, conversation_id: int) -> None:
    """A message to the slow reader's user still reaches its other device promptly."""
    await alice.send_text("still there?", conversation_id=conversation_id)
    while True:  # past what bob's device has not yet taken of the setup's messages
        message = await bob.next_message(timeout=10)
        if message["body"]["text"] == "still there?":
            return
