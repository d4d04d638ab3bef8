"""A real Pigeon cluster for tests: ``pigeon cluster`` as a child process, on a freshly
created PostgreSQL database and a Redis key prefix of its own, both removed afterwards.

The services are the local ones (``PIGEON_TEST_PG``, ``PIGEON_TEST_REDIS`` override them);
when one is missing the tests skip, except with ``CI=true`` where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.harness import TEST_SERVER_ENV

PG_URL = os.environ.get("PIGEON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PIGEON_TEST_REDIS", "redis://127.0.0.1:6379/0")
LINE = re.compile(r"^(platform|gateway|worker) (\S+): (\S+) pid=(\d+)")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_services() -> None:
    """Skip (or fail under CI) when PostgreSQL or Redis is not running here."""
    missing = [
        name
        for name, url, port in (("PostgreSQL", PG_URL, 5432), ("Redis", REDIS_URL, 6379))
        if not _reachable(url, port)
    ]
    if missing:
        message = f"{' and '.join(missing)} not reachable: cluster tests need them"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database() -> str:
    name = f"pigeon_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_url(name: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", parts.query, ""))


def delete_redis_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    except redis.RedisError:
        pass
    finally:
        client.close()


@dataclass
class Member:
    kind: str
    name: str
    url: str
    pid: int

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """``kill -9``: no goodbye, no drain."""
        os.kill(self.pid, signal.SIGKILL)

    def terminate(self) -> None:
        os.kill(self.pid, signal.SIGTERM)


@dataclass
class ClusterProcess:
    """A running ``pigeon cluster``; duck-types the embedded ``ServerProcess``."""

    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    database: str
    redis_url: str
    redis_prefix: str
    members: list[Member]
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cycle = itertools.cycle(range(len(self.gateways)))

    @property
    def platforms(self) -> list[Member]:
        return [m for m in self.members if m.kind == "platform"]

    @property
    def gateways(self) -> list[Member]:
        return [m for m in self.members if m.kind == "gateway"]

    @property
    def http_url(self) -> str:
        return self.platforms[0].url

    @property
    def ws_url(self) -> str:
        """Each call the next gateway: users of one test land on different gateways."""
        return self.gateways[next(self._cycle)].url

    def gateway(self, name: str) -> Member:
        return next(m for m in self.gateways if m.name == name)

    def log(self) -> str:
        parts = [self.log_path.read_text(errors="replace")]
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    # The launcher hung: its children are ours to end.
                    for member in self.members:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(member.pid, signal.SIGKILL)
                    self.process.kill()
                    self.process.wait()
        finally:
            delete_redis_prefix(self.redis_url, self.redis_prefix)
            drop_database(self.database)


def start_cluster(
    *,
    gateways: int = 3,
    platforms: int = 2,
    workers: int = 1,
    env: dict[str, str] | None = None,
    redis_url: str = REDIS_URL,
    timeout: float = 120,
) -> ClusterProcess:
    """Start a cluster on a fresh database and Redis prefix; returns once all answer."""
    require_services()
    database = create_database()
    prefix = f"pt{uuid.uuid4().hex[:10]}"
    data_dir = Path(tempfile.mkdtemp(prefix="pigeon-cluster-"))
    log_path = data_dir / "launcher.log"
    # Every test client connects from 127.0.0.1: lift the per-address connection cap
    # (its own test sets a small one).
    full_env = {**os.environ, **TEST_SERVER_ENV, **(env or {})}
    argv = [
        sys.executable,
        "-m",
        "pigeon",
        "cluster",
        "--gateways",
        str(gateways),
        "--platforms",
        str(platforms),
        "--workers",
        str(workers),
        "--port",
        "0",
        "--database-url",
        database_url(database),
        "--redis-url",
        redis_url,
        "--redis-key-prefix",
        prefix,
        "--data-dir",
        str(data_dir),
        "--log-dir",
        str(data_dir / "logs"),
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    try:
        members = _wait_ready(process, log_path, timeout)
    except BaseException:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=40)
        delete_redis_prefix(redis_url, prefix)
        drop_database(database)
        raise
    cluster = ClusterProcess(
        process, log_path, data_dir, database, redis_url, prefix, members, env or {}
    )
    wait_for_gateways(cluster, gateways)
    return cluster


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> list[Member]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "Pigeon cluster ready" in text:
            members = []
            for line in text.splitlines():
                match = LINE.match(line)
                if match:
                    kind, name, url, pid = match.groups()
                    members.append(Member(kind, name, url, int(pid)))
            return members
        if process.poll() is not None:
            raise RuntimeError(f"pigeon cluster exited with {process.returncode}:\n{text}")
        time.sleep(0.2)
    raise RuntimeError(f"pigeon cluster not ready in {timeout}s:\n{log_path.read_text()}")


def wait_for_gateways(cluster: ClusterProcess, count: int, timeout: float = 20) -> set[str]:
    """Until the API reports ``count`` distinct live gateways (discovery works)."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        for _ in range(4 * count):
            response = httpx.get(cluster.http_url + "/api/v1/gateway", timeout=5)
            if response.status_code == 200:
                seen.add(response.json()["gateway_id"])
        if len(seen) >= count:
            return seen
        time.sleep(0.2)
    raise RuntimeError(f"only gateways {sorted(seen)} became discoverable")
