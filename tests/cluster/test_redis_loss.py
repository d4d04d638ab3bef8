"""Redis flushed, then killed and restarted, while messages flow.

Runs on a throwaway ``redis-server`` started on a free port for this test only. Redis holds
nothing that cannot be rebuilt: the system must recover by itself, sequence numbers come
from the database and are never reused, and the receiver ends up with every acknowledged
message exactly once, in order (what was pushed into the void is announced again by
``notice`` frames once the gateways notice the loss).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import redis.asyncio as aioredis

from tests.cluster.common import FAST, seqs, users, wait_until
from tests.cluster.harness import ClusterProcess, start_cluster
from tests.harness import free_port
from tests.helpers import make_friends

pytestmark = [pytest.mark.asyncio, pytest.mark.cluster]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class ThrowawayRedis:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tempfile.gettempdir(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import redis

        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    if not Path(REDIS_SERVER).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def cluster(throwaway_redis: ThrowawayRedis) -> Iterator[ClusterProcess]:
    process = start_cluster(gateways=2, platforms=1, env=FAST, redis_url=throwaway_redis.url)
    try:
        yield process
    finally:
        process.stop()


async def test_redis_flushed_and_restarted_mid_run(
    cluster: ClusterProcess, throwaway_redis: ThrowawayRedis
) -> None:
    async with users(cluster) as make:
        alice = await make("gw1")
        bob = await make("gw2")
        conversation = await make_friends(alice, bob)
        acked: list[dict[str, object]] = []

        async def send(count: int) -> None:
            for _ in range(count):
                text = f"m{len(acked)}"
                acked.append(await alice.send_text(text, conversation_id=conversation))
                await asyncio.sleep(0.01)

        def bob_has_all() -> bool:
            return len(seqs(bob, conversation)) == len(acked)

        await send(20)
        await wait_until(bob_has_all, 10, "bob to have the first 20")

        # FLUSHALL: the registry, the queues and their consumer groups are gone. Sends go
        # on at once; whatever was pushed into the void reaches bob without another push.
        admin = aioredis.Redis.from_url(throwaway_redis.url)
        await admin.flushall()
        await admin.aclose()
        await send(20)
        await wait_until(bob_has_all, 15, "bob to catch up after FLUSHALL")

        # Redis down: messages are still stored and acknowledged, nothing can be pushed.
        throwaway_redis.kill()
        await send(15)
        throwaway_redis.start()
        # No further send: bob learns of the 15 only from the gateways' recovery notices.
        waited = await wait_until(bob_has_all, 20, "bob to catch up after the restart")

        total = len(acked)
        assert sorted(int(str(a["seq"])) for a in acked) == list(range(1, total + 1))
        got = bob.messages[conversation]
        assert [m["seq"] for m in got] == list(range(1, total + 1))
        assert [m["body"]["text"] for m in got] == [f"m{i}" for i in range(total)]
        assert waited < 20

        # Recovered by itself: pushes flow again, and the registry knows both gateways.
        await alice.send_text("live again", conversation_id=conversation)
        pushed = await bob.wait_for(
            lambda f: f["type"] == "message" and f["message"]["body"] == {"text": "live again"},
            timeout=10,
        )
        assert pushed["message"]["seq"] == total + 1
        admin = aioredis.Redis.from_url(throwaway_redis.url)
        try:
            # Without scores or decode_responses, members come back as bytes; the library's
            # return type covers every combination of options.
            live = cast(list[bytes], await admin.zrange(f"{cluster.redis_prefix}:gateways", 0, -1))
            assert sorted(g.decode() for g in live) == ["gw1", "gw2"]
            assert await admin.hlen(f"{cluster.redis_prefix}:conn:{{{bob.user_id}}}") == 1
        finally:
            await admin.aclose()

        # The outage was logged as outages (a line when it began, one when it ended,
        # with counts), not as a traceback per failed call.
        log = cluster.log()
        assert "Traceback" not in log
        assert "_outage_started" in log
        assert "_outage_ended" in log
