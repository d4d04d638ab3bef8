"""Smoke test of the benchmark harness: a short relay run and a short embedded Pigeon run.

Both go through ``python -m bench`` as a user would run it. A server that cannot start
fails the test (the harness exits non-zero); nothing here is skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHORT_RUN = [
    "--pairs",
    "2",
    "--window",
    "5",
    "--duration",
    "2",
    "--warmup",
    "0.5",
    "--workers",
    "1",
    "--no-progress",
]


def run_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, *SHORT_RUN, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    report = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def assert_clean_delivery(run: dict[str, Any]) -> None:
    check = run["check"]
    assert run["ok"], run["problems"]
    assert run["delivered_per_s"] > 0
    assert check["received"] > 0
    assert check["received"] >= check["acked"]
    for name in ("lost", "duplicated", "reordered", "seq_mismatch", "unacked", "send_errors"):
        assert check[name] == 0, (name, run["problems"])
    assert run["latency_ms"]["count"] > 0


@pytest.mark.timeout(180)
def test_relay_delivers_everything_once_in_order(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "relay")
    [run] = result["runs"]
    assert run["label"].startswith("relay")
    assert_clean_delivery(run)


@pytest.mark.timeout(180)
def test_private_embedded_delivers_everything_once_in_order(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "private", "--mode", "embedded")
    [run] = result["runs"]
    assert run["label"] == "pigeon embedded"
    assert_clean_delivery(run)
