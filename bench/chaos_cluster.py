"""The chaos run's own cluster: a throwaway PostgreSQL database, a ``redis-server`` of its
own on a free port, and every Pigeon process started one by one (so that each can be
killed, stopped and restarted by pid).

Everything listens on 127.0.0.1. Children die with the harness (``PR_SET_PDEATHSIG``) and
:meth:`ChaosCluster.stop` ends them all, drops the database and stops Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.cluster import create_database, database_url, drop_database
from bench.servers import ROOT, ServerError, free_port, tcp_open

STOP_GRACE_S = 20.0

# Failures are noticed in seconds, as in the cluster tests: gateways report every 0.5 s
# and count as dead after 3 s; the janitor looks every 0.5 s.
FAST_FAILURE_ENV = {
    # The run registers all its users from one address in seconds.
    "PIGEON_AUTH__REGISTER_PER_ADDRESS": "1000000",
    "PIGEON_AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    "PIGEON_REDIS__GATEWAY_HEARTBEAT_S": "0.5",
    "PIGEON_REDIS__GATEWAY_TTL_S": "3",
    "PIGEON_REDIS__REGISTRY_TTL_S": "15",
    "PIGEON_WORKER__SWEEP_INTERVAL_S": "0.5",
    "PIGEON_PRESENCE__GRACE_S": "1",
    # All devices of the run connect from 127.0.0.1.
    "PIGEON_HTTP__MAX_CONNECTIONS_PER_CLIENT": "100000",
}


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when the harness dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None

    def arm() -> None:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return arm


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def missing_services(pg_url: str) -> str | None:
    """None when a chaos cluster can be started here, else what is missing."""
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    if not tcp_open(parts.hostname or "127.0.0.1", parts.port or 5432):
        return f"PostgreSQL not reachable at {pg_url}"
    if redis_server_binary() is None:
        return "redis-server is not installed (the chaos run starts a Redis of its own)"
    return None


@dataclass
class Proc:
    """One child process: started, signalled and restarted by its pid; logs appended."""

    name: str
    kind: str  # platform, gateway, worker, redis
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.starts += 1
        stamp = time.strftime("%H:%M:%S")
        self._log.write(f"\n===== chaos: start #{self.starts} at {stamp} =====\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, sig)

    def note(self, text: str) -> None:
        if self._log is not None:
            self._log.write(f"===== chaos: {text} at {time.strftime('%H:%M:%S')} =====\n".encode())
            self._log.flush()

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def wait_healthy(proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise ServerError(f"{proc.name} exited (see {proc.log_path})")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{proc.http}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise ServerError(f"{proc.name} not healthy after {timeout:.0f}s (see {proc.log_path})")


async def wait_redis(proc: Proc, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise ServerError(f"redis-server exited (see {proc.log_path})")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proc.port)
            try:
                writer.write(b"PING\r\n")
                await writer.drain()
                if (await asyncio.wait_for(reader.readline(), 1.0)).startswith(b"+PONG"):
                    return
            finally:
                writer.close()
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.05)
    raise ServerError(f"redis-server not answering after {timeout:.0f}s (see {proc.log_path})")


class ChaosCluster:
    def __init__(
        self,
        scratch: Path,
        *,
        pg_url: str,
        gateways: int = 3,
        platforms: int = 2,
        workers: int = 2,
        env: dict[str, str] | None = None,
        keep_db: bool = False,
    ) -> None:
        self.scratch = scratch
        self.pg_url = pg_url
        self.counts = {"platform": platforms, "gateway": gateways, "worker": workers}
        self.extra_env = env or {}
        self.keep_db = keep_db
        self.database: str | None = None
        self.redis: Proc | None = None
        self.procs: list[Proc] = []
        self.log_dir = scratch / "logs"

    # -- lookups -------------------------------------------------------------------------

    def of_kind(self, kind: str) -> list[Proc]:
        return [p for p in self.procs if p.kind == kind]

    @property
    def api_urls(self) -> list[str]:
        return [p.http for p in self.of_kind("platform")]

    def gateway_urls(self) -> dict[str, str]:
        return {p.name: f"ws://127.0.0.1:{p.port}/ws" for p in self.of_kind("gateway")}

    def describe(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "redis_port": self.redis.port if self.redis else None,
            "processes": [
                {"name": p.name, "kind": p.kind, "port": p.port, "starts": p.starts}
                for p in [*([self.redis] if self.redis else []), *self.procs]
            ],
            "env": self.extra_env,
        }

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise ServerError("redis-server is not installed")
        self.database = await create_database(self.pg_url)
        redis_port = free_port()
        redis_dir = self.scratch / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEON_")}
        self.redis = Proc(
            "redis",
            "redis",
            [
                binary,
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(redis_dir),
            ],
            redis_port,
            self.log_dir / "redis.log",
            base_env,
        )
        self.redis.start()
        await wait_redis(self.redis)

        db_url = database_url(self.pg_url, self.database)
        env = {
            **base_env,
            "PIGEON_AUTH__SECRET_KEY": secrets.token_urlsafe(32),
            **FAST_FAILURE_ENV,
            **self.extra_env,
        }
        common = [
            "--host",
            "127.0.0.1",
            "--database-url",
            db_url,
            "--redis-url",
            f"redis://127.0.0.1:{redis_port}/0",
            "--data-dir",
            str(self.scratch / "data"),
        ]
        migrate = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "pigeon", "migrate", "--database-url", db_url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        (self.log_dir / "migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise ServerError(f"pigeon migrate failed:\n{migrate.stderr[-2000:]}")
        for kind in ("platform", "gateway", "worker"):
            for i in range(1, self.counts[kind] + 1):
                port = free_port()
                argv = [sys.executable, "-m", "pigeon", kind, "--port", str(port), *common]
                name = f"{kind}-{i}"
                if kind == "gateway":
                    name = f"gw{i}"
                    argv += ["--gateway-id", name, "--public-url", f"ws://127.0.0.1:{port}/ws"]
                self.procs.append(Proc(name, kind, argv, port, self.log_dir / f"{name}.log", env))
        for proc in self.procs:
            proc.start()
        await asyncio.gather(*(wait_healthy(p, 90) for p in self.procs))
        await self.wait_discoverable()

    async def wait_discoverable(self, timeout: float = 30.0) -> None:
        """Until GET /api/v1/gateway has offered every gateway."""
        wanted = {p.name for p in self.of_kind("gateway")}
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5.0) as client:
            while time.monotonic() < deadline:
                for url in self.api_urls:
                    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                        response = await client.get(f"{url}/api/v1/gateway")
                        if response.status_code == 200:
                            seen.add(str(response.json()["gateway_id"]))
                if wanted <= seen:
                    return
                await asyncio.sleep(0.1)
        raise ServerError(f"only gateways {sorted(seen)} of {sorted(wanted)} became discoverable")

    async def restart(self, proc: Proc) -> None:
        proc.start()
        if proc.kind == "redis":
            await wait_redis(proc)
        else:
            await wait_healthy(proc, 60)

    def stop(self) -> None:
        """Stop every process (SIGTERM, SIGKILL after a grace period), drop the database."""
        for proc in self.procs:
            proc.signal(signal.SIGCONT)
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs:
            if proc.process is None:
                continue
            try:
                proc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.note("did not stop in time: SIGKILL")
                proc.kill9()
        if self.redis is not None:
            self.redis.kill9()
        for proc in [*self.procs, *([self.redis] if self.redis else [])]:
            proc.close_log()
        if self.database is not None and not self.keep_db:
            with contextlib.suppress(Exception):
                asyncio.run(drop_database(self.pg_url, self.database))
