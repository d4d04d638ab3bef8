"""Helpers for cluster tests: fast failure detection, clients placed on chosen gateways."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pigeon.client import PigeonClient
from tests.cluster.harness import ClusterProcess
from tests.conftest import PASSWORD, unique_name

# Failures are noticed in seconds: gateways report every 0.5 s and count as dead after 3 s.
FAST = {
    "PIGEON_GATEWAY__RATE_PER_S": "1000",
    "PIGEON_GATEWAY__RATE_BURST": "2000",
    "PIGEON_REDIS__GATEWAY_HEARTBEAT_S": "0.5",
    "PIGEON_REDIS__GATEWAY_TTL_S": "3",
    "PIGEON_REDIS__REGISTRY_TTL_S": "15",
    "PIGEON_WORKER__SWEEP_INTERVAL_S": "0.5",
    "PIGEON_PRESENCE__GRACE_S": "1",
}

MakeUser = Callable[..., Awaitable[PigeonClient]]


@asynccontextmanager
async def users(cluster: ClusterProcess) -> AsyncIterator[MakeUser]:
    """``make(gateway="gw1", api=0, device="web", login_as=None)`` -> connected client."""
    made: list[PigeonClient] = []

    async def make(
        gateway: str | None = None,
        *,
        api: int = 0,
        device: str = "web",
        login_as: PigeonClient | None = None,
        connect: bool = True,
    ) -> PigeonClient:
        ws_url = cluster.gateway(gateway).url if gateway else cluster.ws_url
        client = PigeonClient(cluster.platforms[api].url, device=device, ws_url=ws_url)
        made.append(client)
        if login_as is not None:
            await client.login(login_as.user["username"], PASSWORD)
        else:
            await client.register(unique_name("c"), PASSWORD)
        if connect:
            await client.connect()
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.close()


async def raw_socket(url: str, token: str, device: str = "web") -> ClientConnection:
    """An authenticated socket that never reconnects (a client that simply vanishes)."""
    ws = await connect(url)
    await ws.send(json.dumps({"type": "auth", "token": token, "device": device}))
    hello = await recv(ws)
    assert hello["type"] == "hello", hello
    return ws


async def recv(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def recv_until(
    ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv(ws, max(0.01, deadline - time.monotonic()))
        if predicate(frame):
            return frame


def presence_of(user_id: int, online: bool, devices: list[str] | None = None) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        if frame.get("type") != "presence" or frame.get("user_id") != user_id:
            return False
        if frame.get("online") != online:
            return False
        return devices is None or sorted(frame.get("devices", [])) == sorted(devices)

    return match


async def live_gateway_ids(cluster: ClusterProcess, tries: int = 40) -> set[str]:
    async with httpx.AsyncClient() as http:
        seen = set()
        for _ in range(tries):
            response = await http.get(cluster.http_url + "/api/v1/gateway")
            if response.status_code == 200:
                seen.add(response.json()["gateway_id"])
        return seen


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check``; return how long it took, fail with ``what`` after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def seqs(client: PigeonClient, conversation_id: int) -> list[int]:
    return [m["seq"] for m in client.messages.get(conversation_id, [])]


def holds(client: PigeonClient, conversation_id: int, count: int) -> Callable[[], bool]:
    """A check for :func:`wait_until`: ``client`` has ``count`` messages of the conversation."""
    return lambda: len(seqs(client, conversation_id)) == count


async def close_code(ws: ClientConnection, timeout: float = 5) -> int | None:
    """Read (and drop) frames until the server closes; the close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
    except ConnectionClosed:
        return ws.close_code
    raise AssertionError("the server did not close the socket")
