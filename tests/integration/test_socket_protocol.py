"""The WebSocket protocol with raw frames: auth, heartbeat, and every kind of bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pigeon.client import PigeonClient
from tests.conftest import PASSWORD, unique_name
from tests.harness import ServerProcess, start_embedded

pytestmark = pytest.mark.asyncio

STRICT = {
    "PIGEON_GATEWAY__AUTH_TIMEOUT_S": "1",
    "PIGEON_GATEWAY__HEARTBEAT_INTERVAL_S": "1",
    "PIGEON_GATEWAY__HEARTBEAT_TIMEOUT_S": "2",
    "PIGEON_GATEWAY__RATE_PER_S": "5",
    "PIGEON_GATEWAY__RATE_BURST": "10",
    "PIGEON_GATEWAY__MAX_FRAME_BYTES": "4096",
    "PIGEON_GATEWAY__MAX_BAD_FRAMES": "5",
    "PIGEON_MESSAGING__REQUIRE_FRIENDSHIP": "false",
}


@pytest.fixture(scope="module")
def strict_server() -> Iterator[ServerProcess]:
    process = start_embedded(STRICT)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def username(strict_server: ServerProcess) -> str:
    name = unique_name()
    async with PigeonClient(strict_server.http_url) as client:
        await client.register(name, PASSWORD)
    return name


@pytest.fixture
async def token(strict_server: ServerProcess, username: str) -> str:
    """A web session's access token."""
    return await device_token(strict_server, username, "web")


async def device_token(server: ServerProcess, username: str, device: str) -> str:
    """The access token of a new session of ``username`` on that kind of device."""
    async with PigeonClient(server.http_url, device=device) as client:
        await client.login(username, PASSWORD)
        return client.access_token


async def recv(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def authed(server: ServerProcess, token: str, device: str = "web") -> ClientConnection:
    ws = await connect(server.ws_url)
    await ws.send(json.dumps({"type": "auth", "token": token, "device": device}))
    hello = await recv(ws)
    assert hello["type"] == "hello"
    return ws


async def frames_until_closed(ws: ClientConnection, timeout: float = 5) -> list[dict[str, Any]]:
    """Every frame the server sends until it closes (fails if it does not within timeout)."""
    frames = []
    try:
        while True:
            frames.append(await recv(ws, timeout))
    except ConnectionClosed:
        return frames


async def close_code(ws: ClientConnection, timeout: float = 5) -> int | None:
    await frames_until_closed(ws, timeout)
    return ws.close_code


async def test_hello_announces_identity_and_heartbeat(
    strict_server: ServerProcess, username: str
) -> None:
    desktop = await device_token(strict_server, username, "desktop")
    ws = await connect(strict_server.ws_url)
    # The device is the session's: a frame naming another is not believed.
    await ws.send(json.dumps({"type": "auth", "token": desktop, "device": "mobile"}))
    hello = await recv(ws)
    assert hello["type"] == "hello"
    assert hello["device"] == "desktop"
    assert hello["heartbeat_interval"] == 1000
    assert hello["user"]["username"]
    await ws.send('{"type":"ping"}')
    assert (await recv(ws))["type"] == "pong"
    await ws.close()


async def test_no_auth_frame_closes_with_4002(strict_server: ServerProcess) -> None:
    ws = await connect(strict_server.ws_url)
    assert await close_code(ws) == 4002


async def test_bad_token_closes_with_4001(strict_server: ServerProcess) -> None:
    ws = await connect(strict_server.ws_url)
    await ws.send('{"type":"auth","token":"not-a-token"}')
    error = await recv(ws)
    assert (error["type"], error["code"]) == ("error", "unauthorized")
    assert await close_code(ws) == 4001


async def test_claimed_identity_is_ignored(strict_server: ServerProcess, token: str) -> None:
    ws = await connect(strict_server.ws_url)
    await ws.send(json.dumps({"type": "auth", "token": token, "user_id": 1}))
    error = await recv(ws)
    assert (error["type"], error["code"]) == ("error", "invalid_frame")
    await ws.close()


async def test_send_before_auth_is_refused(strict_server: ServerProcess) -> None:
    ws = await connect(strict_server.ws_url)
    await ws.send(
        '{"type":"send","ref":"r1","client_msg_id":"c","to_user_id":1,"body":{"text":"x"}}'
    )
    error = await recv(ws)
    assert (error["code"], error["ref"]) == ("not_authenticated", "r1")
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{this is not json", "bad_json"),
        ('{"type":"teleport"}', "unknown_type"),
        ('{"type":"sync","ref":"s","conversation_id":"abc"}', "invalid_frame"),
        ('{"type":"send","ref":"x","client_msg_id":5,"to_user_id":2,"body":{}}', "invalid_frame"),
        ("[]", "invalid_frame"),
    ],
)
async def test_malformed_frames_get_error_frames_and_the_socket_lives(
    strict_server: ServerProcess, token: str, frame: str, code: str
) -> None:
    ws = await authed(strict_server, token)
    await ws.send(frame)
    error = await recv(ws)
    assert (error["type"], error["code"]) == ("error", code)
    await ws.send('{"type":"ping"}')
    assert (await recv(ws))["type"] == "pong"
    await ws.close()


async def test_domain_errors_come_back_with_the_ref(
    strict_server: ServerProcess, token: str
) -> None:
    ws = await authed(strict_server, token)
    await ws.send('{"type":"sync","ref":"q1","conversation_id":987654}')
    error = await recv(ws)
    assert (error["ref"], error["code"]) == ("q1", "not_member")
    await ws.send(
        '{"type":"send","ref":"q2","client_msg_id":"c","to_user_id":99999999,"body":{"text":"x"}}'
    )
    error = await recv(ws)
    assert (error["ref"], error["code"]) == ("q2", "not_found")
    await ws.send('{"type":"send","ref":"q3","client_msg_id":"c","to_user_id":1,"body":{"t":1}}')
    assert (await recv(ws))["code"] == "invalid_request"
    await ws.close()


async def test_oversize_frame_closes_with_1009(strict_server: ServerProcess, token: str) -> None:
    ws = await authed(strict_server, token)
    await ws.send(json.dumps({"type": "ping", "pad": "x" * 5000}))
    assert await close_code(ws) == 1009


async def test_many_bad_frames_close_with_4000(strict_server: ServerProcess, token: str) -> None:
    ws = await authed(strict_server, token)
    for _ in range(5):
        await ws.send("{bad")
        assert (await recv(ws))["code"] == "bad_json"
    await ws.send("{bad")
    assert await close_code(ws) == 4000


async def test_flood_is_limited_then_closed(strict_server: ServerProcess, token: str) -> None:
    ws = await authed(strict_server, token)
    for _ in range(40):
        await ws.send('{"type":"ping"}')
    codes = [f.get("code") or f["type"] for f in await frames_until_closed(ws)]
    # The burst (10, less the auth frame) is answered; then each frame is refused until the
    # client has ignored 10 refusals in a row, and the socket is closed.
    assert 9 <= codes.count("pong") <= 11
    assert codes[-10:] == ["rate_limited"] * 10
    assert ws.close_code == 4008


async def test_silent_connection_is_closed_after_heartbeat_timeout(
    strict_server: ServerProcess, token: str
) -> None:
    ws = await authed(strict_server, token)
    assert await close_code(ws, timeout=6) == 4004


async def test_second_login_of_same_device_kind_keeps_both(
    strict_server: ServerProcess, token: str, username: str
) -> None:
    """Two phones (or two browsers) are two devices: neither logs the other out."""
    # Log in first: the strict server closes sockets that stay silent for 2 s.
    phones = [await device_token(strict_server, username, "mobile") for _ in range(2)]
    first = await authed(strict_server, phones[0])
    other_kind = await authed(strict_server, token)
    second = await authed(strict_server, phones[1])
    for ws in (first, second, other_kind):
        await ws.send('{"type":"ping"}')
        assert (await recv(ws))["type"] == "pong"
        await ws.close()


async def test_bad_input_on_one_socket_leaves_others_alone(
    strict_server: ServerProcess, token: str
) -> None:
    healthy = await authed(strict_server, token, device="desktop")
    noisy = await connect(strict_server.ws_url)
    await noisy.send(b"\x00\xff" * 3000)
    await noisy.close()
    await healthy.send('{"type":"ping"}')
    assert (await recv(healthy))["type"] == "pong"
    await healthy.close()
