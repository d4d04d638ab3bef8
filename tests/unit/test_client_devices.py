"""The SDK's device surface without a server: login names the device, the device list
calls, and a socket refused at the connection cap stops the client (no retry loop)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pigeon.client import Kicked, PigeonClient

pytestmark = pytest.mark.asyncio

USER = {"id": 7, "username": "ada", "nickname": "Ada", "avatar_url": "", "signature": ""}


def tokens(device_id: str) -> dict[str, Any]:
    return {
        "access_token": "a",
        "refresh_token": "r",
        "token_type": "bearer",
        "expires_in": 900,
        "user": {**USER, "created_at": 0},
        "device_id": device_id,
    }


class Api:
    """A fake HTTP API that records what the SDK asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body: Any = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        path = request.url.path.removeprefix("/api/v1")
        if path == "/auth/login":
            return httpx.Response(200, json=tokens("d1"))
        if path == "/devices":
            return httpx.Response(200, json={"devices": [{"id": "d1", "current": True}]})
        if request.method == "PATCH":
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[1], "name": body["name"]})
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})


async def test_login_names_the_device_and_keeps_its_id() -> None:
    api = Api()
    transport = httpx.MockTransport(api)
    async with PigeonClient(
        "http://pigeon", device="desktop", device_name="Work laptop", transport=transport
    ) as client:
        await client.login("ada", "pw")
        assert client.device_id == "d1"
        assert await client.list_devices() == [{"id": "d1", "current": True}]
        assert (await client.rename_device("d2", "Old phone"))["name"] == "Old phone"
        await client.log_out_device("d2")
    login = {"username": "ada", "password": "pw", "device": "desktop", "device_name": "Work laptop"}
    assert api.calls == [
        ("POST", "/api/v1/auth/login", login),
        ("GET", "/api/v1/devices", None),
        ("PATCH", "/api/v1/devices/d2", {"name": "Old phone"}),
        ("DELETE", "/api/v1/devices/d2", None),
    ]


async def test_no_device_name_sends_none() -> None:
    api = Api()
    async with PigeonClient("http://pigeon", transport=httpx.MockTransport(api)) as client:
        await client.login("ada", "pw")
    assert api.calls[0][2] == {"username": "ada", "password": "pw", "device": "web"}


class RefusingSocket:
    """A socket that answers ``auth`` the way a gateway at the cap does."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = False

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def recv(self) -> str:
        error = {"type": "error", "code": "too_many_connections", "message": "too many"}
        return json.dumps(error)

    async def close(self) -> None:
        self.closed = True


async def test_a_refusal_at_the_cap_stops_the_client_with_kicked() -> None:
    sockets: list[RefusingSocket] = []

    async def ws_connect(url: str) -> Any:
        sockets.append(RefusingSocket())
        return sockets[-1]

    api = Api()
    async with PigeonClient(
        "http://pigeon",
        ws_url="ws://pigeon/ws",
        transport=httpx.MockTransport(api),
        ws_connect=ws_connect,
    ) as client:
        await client.login("ada", "pw")
        with pytest.raises(Kicked) as caught:
            await client.connect(timeout=5)
        assert caught.value.reason == "too_many_connections"
        assert client.kicked == "too_many_connections"
    assert len(sockets) == 1  # tried once, not in a loop
    assert json.loads(sockets[0].sent[0])["type"] == "auth"
    assert sockets[0].closed
