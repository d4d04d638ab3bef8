"""Frame fuzzing against a running server: hostile frames before and after auth get an
error frame or a documented close, no traceback, and a neighbouring chat carries on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pigeon.client import PigeonClient
from pigeon.common.protocol.codec import FrameError, decode_client_frame
from tests.conftest import PASSWORD, unique_name
from tests.fuzz_frames import FRAME_CLOSES, FRAME_ERRORS, any_frame
from tests.harness import ServerProcess, start_embedded

pytestmark = pytest.mark.asyncio

ENV = {
    "PIGEON_GATEWAY__RATE_PER_S": "1000",
    "PIGEON_GATEWAY__RATE_BURST": "2000",
    "PIGEON_GATEWAY__MAX_BAD_FRAMES": "10",
    "PIGEON_MESSAGING__REQUIRE_FRIENDSHIP": "false",
}
# Frames answered by nothing when they are well-formed and the socket is authenticated.
SILENT = {"read", "typing"}


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerProcess]:
    process = start_embedded(ENV)
    try:
        yield process
    finally:
        process.stop()


def hostile_frames(count: int) -> list[str | bytes]:
    """``count`` frames drawn by hypothesis (generation only: nothing to shrink here)."""
    frames: list[str | bytes] = []

    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(any_frame)
    def collect(data: str | bytes) -> None:
        frames.append(data)

    collect()
    return frames


def needs_answer(data: str | bytes, authenticated: bool) -> bool:
    try:
        frame = decode_client_frame(data)
    except FrameError:
        return True
    return not authenticated or frame.type not in SILENT


class Fuzzer:
    """One socket at a time, authenticated or not, reopened when the server closes it."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.server, self.token = server, token
        self.ws: ClientConnection | None = None
        self.authenticated = False
        self.closes: list[int | None] = []

    async def open(self, authenticate: bool) -> ClientConnection:
        ws = await connect(self.server.ws_url)
        if authenticate:
            await ws.send(json.dumps({"type": "auth", "token": self.token}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
        self.ws, self.authenticated = ws, authenticate
        return ws

    async def try_frame(self, data: str | bytes, authenticate: bool) -> None:
        ws = self.ws if self.ws is not None and self.authenticated == authenticate else None
        if ws is None:
            if self.ws is not None:
                await self.ws.close()
            ws = await self.open(authenticate)
        answered = needs_answer(data, self.authenticated)
        try:
            await ws.send(data)
            raw = await asyncio.wait_for(ws.recv(), 5 if answered else 0.2)
        except TimeoutError:
            assert not answered, f"no answer to {data!r}"
            return
        except ConnectionClosed:
            self.closes.append(ws.close_code)
            assert ws.close_code in FRAME_CLOSES, (data, ws.close_code)
            self.ws = None
            return
        frame = json.loads(raw)
        if frame["type"] == "error":
            assert frame["code"] != "internal", (data, frame)
            if not self.authenticated or frame["code"] in FRAME_ERRORS:
                assert frame["code"] in FRAME_ERRORS, (data, frame)


async def test_hostile_frames_get_answers_and_spare_the_neighbours(
    fuzz_server: ServerProcess,
) -> None:
    async with (
        PigeonClient(fuzz_server.http_url) as alice,
        PigeonClient(fuzz_server.http_url) as bob,
        PigeonClient(fuzz_server.http_url) as mallory,
    ):
        await mallory.register(unique_name(), PASSWORD)
        await alice.register(unique_name(), PASSWORD)
        await bob.register(unique_name(), PASSWORD)
        await alice.connect()
        await bob.connect()
        ack = await alice.send_text("before", to_user_id=bob.user_id)
        assert (await bob.next_message(timeout=5))["body"]["text"] == "before"

        fuzzer = Fuzzer(fuzz_server, mallory.access_token)
        for i, data in enumerate(hostile_frames(120)):
            await fuzzer.try_frame(data, authenticate=i % 2 == 1)
            if i % 40 == 39:
                text = f"during {i}"
                await alice.send_text(text, conversation_id=ack["conversation_id"])
                assert (await bob.next_message(timeout=5))["body"]["text"] == text
        if fuzzer.ws is not None:
            await fuzzer.ws.close()

    log = fuzz_server.log()
    assert "Traceback" not in log
    assert "socket_failed" not in log
