"""Starting real Pigeon servers for tests, as separate processes on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Test suites register, log in and upload from 127.0.0.1 much faster than people do; the
# per-address and per-user brakes have tests of their own (which set these lower).
TEST_LIMITS = {
    "PIGEON_AUTH__REGISTER_PER_ADDRESS": "1000000",
    "PIGEON_AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    "PIGEON_UPLOADS__RATE_PER_USER": "1000000",
    # Every test client connects from 127.0.0.1: lift the per-address connection cap
    # (its own test sets a small one).
    "PIGEON_HTTP__MAX_CONNECTIONS_PER_CLIENT": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``pigeon serve`` (or any process serving /healthz) and where it listens."""

    http_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.http_url.replace("http", "ws", 1) + "/ws"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become healthy in {timeout}s:\n{log_path.read_text()}")


def start_embedded(
    env: dict[str, str] | None = None, data_dir: Path | None = None
) -> ServerProcess:
    """Start ``pigeon serve`` with SQLite in a fresh data dir; ``env`` overrides settings."""
    port = free_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="pigeon-test-"))
    log_path = data_dir / "server.log"
    full_env = {**os.environ, **TEST_LIMITS, **(env or {})}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pigeon",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    url = f"http://127.0.0.1:{port}"
    server = ServerProcess(url, process, log_path, data_dir, env or {})
    try:
        wait_healthy(url, process, log_path, timeout=60)
    except BaseException:
        server.stop()  # not left running behind the failed test
        raise
    return server
