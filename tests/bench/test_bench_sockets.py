"""Smoke test of ``python -m bench sockets``: a few sockets on each server, held briefly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_sockets_scenario_holds_every_socket(tmp_path: Path) -> None:
    out = tmp_path / "sockets.json"
    args = ["--sockets", "20", "--heartbeat", "2", "--hold", "3", "--settle", "10"]
    done = subprocess.run(
        [sys.executable, "-m", "bench", "sockets", *args, "--no-progress", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    runs = json.loads(out.read_text())["runs"]
    assert [r["label"] for r in runs] == [
        "bare websockets",
        "bench relay (starlette)",
        "pigeon embedded",
    ]
    for run in runs:
        assert run["ok"], run
        assert run["opened"] == 20, run
        assert not run["dropped"], run
        assert run["pongs"] >= 20, run
        assert run["without_pong"] == 0, run
        assert run["rss_before_kib"] > 0, run
        assert run["rss_after_kib"] > 0, run
