"""matrix-synapse in its own virtualenv: its dependencies (Twisted, psycopg2, ...) stay out
of Pigeon's, and the venv is reused by later runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.servers import ServerError

# The newest release when this was written; it installs on Python 3.11 from wheels, except
# psycopg2, which pip builds (needs pg_config and a C compiler).
SYNAPSE_VERSION = "1.163.2"
REQUIREMENT = f"matrix-synapse[postgres]=={SYNAPSE_VERSION}"


def venv_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "pigeon-bench" / "synapse-venv"


def venv_python(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "bin" / "python"


def ensure_installed(venv: Path | None = None) -> Path:
    """The venv's python, with the pinned Synapse installed (pip runs only the first time)."""
    venv = venv or venv_dir()
    marker = venv / f".installed-{SYNAPSE_VERSION}"
    python = venv_python(venv)
    if marker.exists() and python.exists():
        return python
    print(f"installing {REQUIREMENT} into {venv} (first use) ...", file=sys.stderr)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", REQUIREMENT],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(
                f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
            )
    marker.write_text(REQUIREMENT + "\n")
    return python
