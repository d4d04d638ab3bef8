"""Pigeon on a Redis Cluster (three throwaway master nodes): the key design keeps every
script and multi-key command within one hash slot, so routing, presence and discovery work
as on one Redis."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.cluster.common import (
    FAST,
    holds,
    live_gateway_ids,
    presence_of,
    seqs,
    users,
    wait_until,
)
from tests.cluster.harness import ClusterProcess, start_cluster
from tests.helpers import make_friends

pytestmark = [pytest.mark.asyncio, pytest.mark.cluster]


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[list[int]]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        message = "redis-server and redis-cli are needed for a throwaway Redis Cluster"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    ports = node_ports(3)
    workdir = Path(tempfile.mkdtemp(prefix="pigeon-redis-cluster-"))
    processes = []
    for port in ports:
        node_dir = workdir / str(port)
        node_dir.mkdir()
        processes.append(
            subprocess.Popen(
                [
                    server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(node_dir),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        for port in ports:
            _wait_ping(port)
        subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        _wait_cluster_ok(ports[0])
        yield ports
    finally:
        for process in processes:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def node_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (+10000) is free and valid too."""
    ports: list[int] = []
    for candidate in random.sample(range(20000, 50000), 2000):
        if len(ports) == count:
            break
        if all(_free(candidate + offset) for offset in (0, 10000)):
            ports.append(candidate)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=1)


def _wait_ping(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with _client(port) as client:
                if client.ping():
                    return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError(f"redis node on {port} did not start")


def _wait_cluster_ok(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with _client(port) as client:
            info = client.execute_command("CLUSTER INFO")
        if isinstance(info, dict):
            state = info.get("cluster_state")
        else:
            text = info.decode() if isinstance(info, bytes) else str(info)
            state = "ok" if "cluster_state:ok" in text else text
        if state == "ok":
            return
        time.sleep(0.1)
    raise RuntimeError("the Redis Cluster did not become ready")


@pytest.fixture(scope="module")
def cluster(redis_cluster: list[int]) -> Iterator[ClusterProcess]:
    process = start_cluster(
        gateways=3,
        platforms=1,
        env={**FAST, "PIGEON_REDIS__CLUSTER": "true"},
        redis_url=f"redis://127.0.0.1:{redis_cluster[0]}/0",
    )
    try:
        yield process
    finally:
        process.stop()


async def test_chat_presence_and_discovery_on_a_redis_cluster(
    cluster: ClusterProcess, redis_cluster: list[int]
) -> None:
    assert await live_gateway_ids(cluster) == {"gw1", "gw2", "gw3"}
    async with users(cluster) as make:
        alice = await make("gw1")
        bob = await make("gw2", connect=False)
        conversation = await make_friends(alice, bob)
        await bob.connect()
        await alice.wait_for(presence_of(bob.user_id, True, ["web"]), timeout=5)
        phone = await make("gw3", device="mobile", login_as=bob)
        await alice.wait_for(presence_of(bob.user_id, True, ["mobile", "web"]), timeout=5)
        for i in range(10):
            await alice.send_text(f"m{i}", conversation_id=conversation)
        for device in (bob, phone):
            await wait_until(holds(device, conversation, 10), 10, "10 each")
            assert seqs(device, conversation) == list(range(1, 11))
        await bob.close()
        await phone.close()
        await alice.wait_for(presence_of(bob.user_id, False, []), timeout=5)
    # The keys really are spread over the nodes.
    holding = []
    for port in redis_cluster:
        with _client(port) as client:
            if client.keys(f"{cluster.redis_prefix}:*"):
                holding.append(port)
    assert len(holding) >= 2, holding
