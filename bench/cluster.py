"""A Pigeon cluster for one run: a fresh PostgreSQL database, an empty Redis database,
and ``python -m pigeon cluster`` (the local launcher) as a child process group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.servers import ROOT, SERVER_ENV, ManagedProcess, ServerError, tcp_open, wait_http

URL_RE = re.compile(r"\b(?:https?|wss?)://127\.0\.0\.1:\d+[^\s'\",)]*")


@dataclass(frozen=True)
class ClusterOptions:
    gateways: int = 2
    platforms: int = 1
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379"
    keep_db: bool = False
    workers: int = 1
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class RunningCluster:
    proc: ManagedProcess
    api: str
    gateways: list[str]
    database: str
    redis_db: int
    opts: ClusterOptions
    notes: list[str] = field(default_factory=list)
    # What the launcher said it started: stopped by pid if one outlives the launcher (the
    # launcher's children run in sessions of their own).
    child_pids: list[int] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "gateways": self.opts.gateways,
            "platforms": self.opts.platforms,
            "workers": self.opts.workers,
            "api": self.api,
            "gateway_urls": self.gateways,
            "database": self.database,
            "redis_db": self.redis_db,
            "command": self.proc.argv,
        }

    def stop(self) -> None:
        self.proc.stop(grace=20)
        for pid in self.child_pids:
            _kill_if_ours(pid)
        flush_redis_db(self.opts.redis_url, self.redis_db)
        if not self.opts.keep_db:
            asyncio.run(drop_database(self.opts.pg_url, self.database))


PID_RE = re.compile(r"\bpid=(\d+)")


def _kill_if_ours(pid: int) -> None:
    """SIGKILL a leftover Pigeon process of this run (not a recycled pid of someone else)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except OSError:
        return  # gone
    if b"pigeon" in argv[:4]:  # python -m pigeon gateway|platform|worker ...
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def launcher_help() -> str | None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pigeon", "cluster", "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return done.stdout if done.returncode == 0 else None


def cluster_available(opts: ClusterOptions) -> str | None:
    """None when a cluster can be started here, else why not."""
    if not tcp_open(*_host_port(opts.pg_url, 5432)):
        return f"PostgreSQL not reachable at {opts.pg_url}"
    if not tcp_open(*_host_port(opts.redis_url, 6379)):
        return f"Redis not reachable at {opts.redis_url}"
    if launcher_help() is None:
        return "`python -m pigeon cluster --help` fails (no cluster launcher yet)"
    return None


async def create_database(pg_url: str) -> str:
    import asyncpg

    name = f"pigeon_bench_{int(time.time())}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(pg_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def database_url(pg_url: str, name: str) -> str:
    parts = urlsplit(pg_url)
    return urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", parts.query, ""))


def pick_redis_db(redis_url: str) -> int:
    """An empty numbered Redis database, highest first (15 down to 1)."""
    import redis

    for db in range(15, 0, -1):
        client = redis.Redis.from_url(redis_url, db=db)
        try:
            if client.dbsize() == 0:
                return db
        finally:
            client.close()
    raise ServerError(f"no empty Redis database (1-15) at {redis_url}")


def flush_redis_db(redis_url: str, db: int) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, db=db)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_db_url(redis_url: str, db: int) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def launcher_argv(
    opts: ClusterOptions, db_url: str, redis_url: str, scratch: Path, help_text: str
) -> list[str]:
    """The launcher's command line, using only the flags its ``--help`` shows."""
    argv = [sys.executable, "-m", "pigeon", "cluster"]
    argv += ["--gateways", str(opts.gateways)]
    if "--platforms" in help_text:
        argv += ["--platforms", str(opts.platforms)]
    elif "--api-servers" in help_text:
        argv += ["--api-servers", str(opts.platforms)]
    if "--workers" in help_text:
        argv += ["--workers", str(opts.workers)]
    argv += ["--database-url", db_url, "--redis-url", redis_url]
    optional = {
        "--host": "127.0.0.1",
        "--port": "0",
        "--data-dir": str(scratch / "cluster-data"),
        "--log-dir": str(scratch / "cluster-logs"),
    }
    for flag, value in optional.items():
        if flag in help_text:
            argv += [flag, value]
    return argv


def start_cluster(opts: ClusterOptions, scratch: Path) -> RunningCluster:
    help_text = launcher_help()
    if help_text is None:
        raise ServerError("`python -m pigeon cluster --help` fails: no cluster launcher")
    database = asyncio.run(create_database(opts.pg_url))
    redis_db = pick_redis_db(opts.redis_url)
    argv = launcher_argv(
        opts,
        database_url(opts.pg_url, database),
        redis_db_url(opts.redis_url, redis_db),
        scratch,
        help_text,
    )
    proc = ManagedProcess(
        "pigeon cluster", argv, scratch / "pigeon-cluster.log", env={**SERVER_ENV, **dict(opts.env)}
    )
    try:
        api, gateways = wait_for_urls(proc, opts, timeout=120)
        wait_http(proc, f"{api}/healthz", timeout=60)
    except BaseException:
        proc.stop()
        flush_redis_db(opts.redis_url, redis_db)
        if not opts.keep_db:
            asyncio.run(drop_database(opts.pg_url, database))
        raise
    pids = [int(pid) for pid in PID_RE.findall(proc.log_tail(4000))]
    return RunningCluster(proc, api, gateways, database, redis_db, opts, child_pids=pids)


def wait_for_urls(
    proc: ManagedProcess, opts: ClusterOptions, timeout: float
) -> tuple[str, list[str]]:
    """Read the launcher's output until it has printed its API and gateway URLs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise proc.fail(f"exited with code {proc.proc.returncode}")
        text = proc.log_tail(400)
        api, gateways = parse_urls(text)
        ready = "ready" in text.lower()
        if api and len(gateways) >= opts.gateways and ready:
            return api, gateways
        time.sleep(0.3)
    raise proc.fail(f"did not print an API URL and {opts.gateways} gateway URLs in {timeout:.0f}s")


def parse_urls(text: str) -> tuple[str | None, list[str]]:
    api: str | None = None
    gateways: list[str] = []
    for line in text.splitlines():
        for url in URL_RE.findall(line):
            lowered = line.lower()
            if url.startswith("ws"):
                ws = url if url.rstrip("/").endswith("/ws") else url.rstrip("/") + "/ws"
                if ws not in gateways:
                    gateways.append(ws)
            elif "gateway" in lowered:
                ws = url.replace("http", "ws", 1).rstrip("/")
                ws = ws if ws.endswith("/ws") else ws + "/ws"
                if ws not in gateways:
                    gateways.append(ws)
            elif api is None and ("platform" in lowered or "api server" in lowered):
                api = url.rstrip("/").removesuffix("/api/v1")
    return api, gateways
