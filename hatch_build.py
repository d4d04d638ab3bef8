"""Wheel build hook: the wheel carries the built web client as ``pigeon/web_dist``.

Building a wheel runs ``npm ci && npm run build`` in ``web/`` (Node.js needed), unless
``PIGEON_WEB_DIST`` names a client built already (CI reuses its ``web/dist`` this way).
Editable installs package nothing: they serve the checkout's own ``web/dist``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PREBUILT_ENV = "PIGEON_WEB_DIST"
PACKAGED_AS = "pigeon/web_dist"


class WebClientBuildHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        prebuilt = os.environ.get(PREBUILT_ENV)
        dist = Path(prebuilt).resolve() if prebuilt else build_client(Path(self.root) / "web")
        check_client(dist)
        build_data["force_include"][str(dist)] = PACKAGED_AS


def build_client(web: Path) -> Path:
    """``npm ci && npm run build`` in ``web/``; the build lands in ``web/dist``."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "building the Pigeon wheel builds the web client, which needs npm (Node.js >= 20.19)"
            f" on PATH; or set {PREBUILT_ENV}=<dir> to package a client built already"
            " (cd web && npm ci && npm run build writes web/dist)"
        )
    for argv in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        subprocess.run(argv, cwd=web, check=True)  # noqa: S603
    return web / "dist"


def check_client(dist: Path) -> None:
    """Refuse to package a client that is missing or was built without precompression."""
    if not (dist / "index.html").is_file():
        raise RuntimeError(f"no web client build in {dist} (index.html is missing)")
    if not any((dist / "assets").glob("*.js.br")):
        raise RuntimeError(
            f"the web client in {dist} has no precompressed assets (*.js.br): rebuild it"
            " with cd web && npm run build"
        )
