"""``pigeon cluster``: a local cluster of gateways, API servers and workers, for trying
Pigeon out and for tests.

Runs the migrations, starts every process as a child against the given PostgreSQL and
Redis, waits until each answers ``/healthz``, prints where each listens (one line each:
``platform 1: http://...``, ``gateway gw1: ws://.../ws``, ``worker 1: http://...``) and
stops them all on Ctrl-C or SIGTERM (gateways drain first: SIGTERM, then SIGKILL after a
grace period). A child that dies is reported, and restarted with ``--restart``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pigeon.common.settings import Settings, ensure_secret_key

STOP_GRACE_S = 20.0


def add_cluster_command(
    commands: Any, common_flags: Callable[[argparse.ArgumentParser], None]
) -> None:
    cluster = commands.add_parser(
        "cluster", help="start a local cluster: gateways, API servers and workers"
    )
    common_flags(cluster)
    cluster.add_argument("--gateways", type=int, default=2, help="gateways (default 2)")
    cluster.add_argument(
        "--platforms",
        "--api-servers",
        dest="platforms",
        type=int,
        default=1,
        help="HTTP API servers (default 1)",
    )
    cluster.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    cluster.add_argument("--host", help="address every process listens on (default 127.0.0.1)")
    cluster.add_argument(
        "--port", type=int, help="first port, the others follow (default 8080; 0: any free)"
    )
    cluster.add_argument("--web-dir", type=Path, help="built web client the API servers serve")
    cluster.add_argument("--log-dir", type=Path, help="write each process's log to a file here")
    cluster.add_argument(
        "--restart", action="store_true", help="restart a process that dies (same port and id)"
    )
    cluster.add_argument("--no-migrate", action="store_true", help="do not run migrations first")


@dataclass
class Child:
    kind: str
    name: str
    port: int
    argv: list[str]
    url: str
    log: IO[bytes] | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    reported: bool = False
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        out = self.log if self.log is not None else None
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            env=self.env,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _passthrough(args: argparse.Namespace) -> list[str]:
    argv: list[str] = []
    for flag, value in (
        ("--config", args.config),
        ("--data-dir", args.data_dir),
        ("--log-level", args.log_level),
        ("--redis-key-prefix", args.redis_key_prefix),
    ):
        if value is not None:
            argv += [flag, str(value)]
    if args.log_json:
        argv.append("--log-json")
    if args.redis_cluster:
        argv.append("--redis-cluster")
    return argv


def plan(args: argparse.Namespace, settings: Settings) -> list[Child]:
    host = args.host or "127.0.0.1"
    base = 8080 if args.port is None else args.port
    counts = (("platform", args.platforms), ("gateway", args.gateways), ("worker", args.workers))
    total = sum(n for _, n in counts)
    ports = (
        [_free_port(host) for _ in range(total)] if base == 0 else list(range(base, base + total))
    )
    common = [
        "--host",
        host,
        "--database-url",
        settings.database_url,
        "--redis-url",
        settings.redis.url,
        *_passthrough(args),
    ]
    env = {**os.environ, "PIGEON_AUTH__SECRET_KEY": ensure_secret_key(settings)}
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    children: list[Child] = []
    port_iter = iter(ports)
    for kind, count in counts:
        for i in range(1, count + 1):
            port = next(port_iter)
            argv = [sys.executable, "-m", "pigeon", kind, "--port", str(port), *common]
            name = str(i)
            url = f"http://{shown}:{port}"
            if kind == "gateway":
                name = f"gw{i}"
                public = f"ws://{shown}:{port}/ws"
                argv += ["--gateway-id", name, "--public-url", public]
                url = public
            if kind == "platform" and args.web_dir is not None:
                argv += ["--web-dir", str(args.web_dir)]
            children.append(Child(kind, name, port, argv, url, env=env))
    return children


def _healthy(child: Child) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{child.port}/healthz", timeout=1
        ) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_healthy(children: list[Child], timeout: float, stopping: list[bool]) -> Child | None:
    """None when all answer; else the first one that died or stayed silent."""
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending and time.monotonic() < deadline and not stopping:
        for child in list(pending):
            if not child.alive():
                return child
            if _healthy(child):
                pending.remove(child)
        time.sleep(0.1)
    return pending[0] if pending else None


def _describe(child: Child) -> str:
    pid = child.process.pid if child.process is not None else 0
    label = f"{child.kind} {child.name}"
    if child.kind == "gateway":
        return f"{label}: {child.url} pid={pid} (health and metrics on port {child.port})"
    return f"{label}: {child.url} pid={pid}"


def _stop_all(children: list[Child]) -> None:
    for child in children:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.signal(signal.SIGKILL)
            child.process.wait()


def run_cluster(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.clustered:
        print("pigeon cluster needs --redis-url", file=sys.stderr)
        return 2
    if not settings.database.url:
        print("note: no --database-url, every process shares SQLite (use PostgreSQL)", flush=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_migrate:
        from pigeon.storage.migrate import upgrade

        upgrade(settings.database_url)
        print(f"schema is up to date at {settings.database_url.split('@')[-1]}", flush=True)
    children = plan(args, settings)
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
        for child in children:
            child.log = (args.log_dir / f"{child.kind}-{child.name}.log").open("ab")

    stopping: list[bool] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for child in children:
            child.start()
        failed = _wait_healthy(children, 90, stopping)
        if failed is not None and not stopping:
            print(f"{failed.kind} {failed.name} did not start; stopping", flush=True)
            return 1
        for child in children:
            print(_describe(child), flush=True)
        print(
            f"Pigeon cluster ready: {args.platforms} API server(s), {args.gateways} "
            f"gateway(s), {args.workers} worker(s). Ctrl-C stops them all.",
            flush=True,
        )
        while not stopping:
            time.sleep(0.2)
            for child in children:
                if child.alive() or stopping:
                    continue
                assert child.process is not None
                code = child.process.returncode
                if not child.reported:
                    print(f"{child.kind} {child.name} exited with code {code}", flush=True)
                    child.reported = True
                if args.restart:
                    time.sleep(min(5.0, 0.5 * 2**child.restarts))
                    child.restarts += 1
                    child.start()
                    child.reported = False
                    print(f"restarted {_describe(child)}", flush=True)
        return 0
    finally:
        print("stopping the cluster", flush=True)
        _stop_all(children)
        for child in children:
            if child.log is not None:
                child.log.close()
