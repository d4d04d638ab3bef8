"""Starting and stopping the servers under test: the relay, embedded Pigeon, a Pigeon cluster.

Every server is a child process in its own process group, with its output in a log file;
:meth:`ManagedProcess.stop` ends that group (SIGTERM, then SIGKILL after a grace period).
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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ManagedProcess:
    def __init__(
        self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        self.log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, why: str) -> ServerError:
        return ServerError(
            f"{self.name} {why} (command: {' '.join(self.argv)})\n"
            f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        else:
            # The leader is gone; its children (a launcher's) may still be there.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def wait_tcp(proc: ManagedProcess, host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise proc.fail(f"exited with code {proc.proc.returncode} before listening")
        if tcp_open(host, port):
            return
        time.sleep(0.1)
    raise proc.fail(f"not listening on {host}:{port} after {timeout:.0f}s")


def wait_http(proc: ManagedProcess, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise proc.fail(f"exited with code {proc.proc.returncode} before answering {url}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise proc.fail(f"{url} not healthy after {timeout:.0f}s ({last})")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def start_relay(impl: str, log_dir: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    proc = ManagedProcess(
        f"relay ({impl})",
        python_module("bench.relay", "--impl", impl, "--host", "127.0.0.1", "--port", str(port)),
        log_dir / f"relay-{impl}.log",
    )
    wait_tcp(proc, "127.0.0.1", port)
    return proc, f"ws://127.0.0.1:{port}/ws"


# The benchmark's senders exceed the per-connection flood limit meant for people typing
# (20 frames/s by default), and it registers its users from one address in seconds; every
# server run by the benchmark lifts those limits, and only those.
SERVER_ENV = {
    "PIGEON_GATEWAY__RATE_PER_S": "1000000",
    "PIGEON_GATEWAY__RATE_BURST": "1000000",
    "PIGEON_AUTH__REGISTER_PER_ADDRESS": "1000000",
    "PIGEON_AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    # Thousands of load-generator sockets come from one address.
    "PIGEON_HTTP__MAX_CONNECTIONS_PER_CLIENT": "1000000",
}


def start_embedded(
    data_dir: Path, log_dir: Path, env: dict[str, str] | None = None
) -> tuple[ManagedProcess, str]:
    port = free_port()
    proc = ManagedProcess(
        "pigeon serve",
        python_module(
            "pigeon",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ),
        log_dir / "pigeon-serve.log",
        env={**SERVER_ENV, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(proc, f"{base}/healthz", timeout=90)
    return proc, base


def add_database_args(parser: argparse.ArgumentParser, what: str) -> None:
    """The flags every scenario with a database of its own takes: where to create it,
    whether to keep it, and extra environment for the Pigeon processes."""
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help=f"PostgreSQL server where {what} is created",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the run's database")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the Pigeon processes (repeatable)",
    )
