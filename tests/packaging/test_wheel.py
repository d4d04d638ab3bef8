"""The wheel stands alone: installed into a clean virtual environment, ``pigeon serve`` serves
the web client it carries, precompressed.

The wheel packages the ``web/dist`` built already (``PIGEON_WEB_DIST``), so the client is not
built twice; the wheel's dependencies come from pip's cache or the package index.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.harness import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]
BUILT_CLIENT = REPO / "web" / "dist"


def run(*argv: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(arg) for arg in argv], check=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (BUILT_CLIENT / "index.html").is_file(), (
        "web/dist is missing: run scripts/setup (or cd web && npm ci && npm run build)"
    )
    out = tmp_path_factory.mktemp("wheels")
    env = {**os.environ, "PIGEON_WEB_DIST": str(BUILT_CLIENT)}
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, REPO, env=env)
    (built,) = out.glob("pigeon_im-*.whl")
    return built


def test_wheel_carries_the_built_client(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    assert "pigeon/web_dist/index.html" in names
    scripts = [name for name in names if re.fullmatch(r"pigeon/web_dist/assets/.+\.js", name)]
    assert scripts
    for script in scripts:
        if archive.getinfo(script).file_size < 1024:
            continue  # compression may not pay for tiny files, so the build skips them
        assert script + ".br" in names
        assert script + ".gz" in names
    assert "pigeon/storage/migrations/script.py.mako" in names
    assert not any(name.startswith(("web/", "tests/")) for name in names)


@pytest.mark.timeout(900)
def test_installed_wheel_serves_the_client(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)

    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIGEON_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                venv / "bin" / "pigeon",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                tmp_path / "data",
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, log_path, timeout=60)
        index = httpx.get(url + "/", headers={"accept-encoding": "identity"})
        assert index.status_code == 200
        assert index.content == (BUILT_CLIENT / "index.html").read_bytes()
        assert index.headers["cache-control"] == "no-cache"

        script = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
        assert script is not None, index.text
        with httpx.stream("GET", url + script[1], headers={"accept-encoding": "br"}) as response:
            body = b"".join(response.iter_raw())
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "br"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert body == (BUILT_CLIENT / script[1].lstrip("/")).with_suffix(".js.br").read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=15)
