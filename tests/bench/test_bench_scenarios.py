"""Smoke tests of the group, sync and team scenarios at a tiny size, embedded mode.

Each goes through ``python -m bench`` as a user would run it and asserts the correctness
figures of its JSON result; the latency targets are reported, not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUP_FAILURES = (
    "unacked",
    "send_errors",
    "ack_seq_problems",
    "history_problems",
    "lost",
    "duplicated",
    "reordered",
    "unexpected",
    "bad_pages",
    "start_mismatch",
)


def run_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--no-progress", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(out.read_text())
    return result


TINY_GROUP = ("--senders", "2", "--rate", "10", "--duration", "1.5", "--warmup", "0.5")


def assert_group_clean(result: dict[str, Any], online: int) -> None:
    check = result["check"]
    assert result["ok"], (check, result["problems"])
    for name in GROUP_FAILURES:
        assert check[name] == 0, (name, check)
    assert check["acked"] == check["sent"] > 0
    assert check["members"] == online
    assert check["deliveries"] == check["acked"] * online
    assert len(result["arrival_ms"]) == result["arrival_latency_ms"]["count"] > 0


@pytest.mark.timeout(60)
def test_hot_group_members_pull_every_message_once(tmp_path: Path) -> None:
    result = run_bench(
        tmp_path, "hot-group", "--members", "12", "--online", "8", "--workers", "1",
        "--no-baseline", *TINY_GROUP,
    )  # fmt: skip
    assert result["group"]["hot"]
    assert_group_clean(result, 8)
    totals = result["member_totals"]
    assert totals["notices"] > 0
    assert totals["pulls"] > 0
    assert totals["pushes"] == 0


@pytest.mark.timeout(60)
def test_group_members_get_every_push_once(tmp_path: Path) -> None:
    result = run_bench(
        tmp_path, "group", "--members", "10", "--workers", "1", "--no-baseline", *TINY_GROUP
    )
    assert not result["group"]["hot"]
    assert_group_clean(result, 10)
    assert result["member_totals"]["pushes"] == result["check"]["deliveries"]


@pytest.mark.timeout(60)
def test_sync_holds_every_waiting_message_once(tmp_path: Path) -> None:
    result = run_bench(
        tmp_path, "sync", "--messages", "60", "--conversations", "3", "--repeats", "1"
    )
    assert result["ok"]
    assert result["messages"] == 60
    [run] = result["runs"]
    assert run["check"]["held"] == 60
    assert run["check"]["failures"] == 0
    assert result["sdk"]["held"] == 60


@pytest.mark.timeout(60)
def test_team_embedded_beside_the_relay(tmp_path: Path) -> None:
    result = run_bench(
        tmp_path, "team", "--mode", "embedded", "--pairs", "2", "--duration", "1.5",
        "--warmup", "0.3", "--workers", "1",
    )  # fmt: skip
    relay, pigeon = result["runs"]
    assert relay["label"].startswith("relay")
    assert pigeon["label"] == "pigeon embedded"
    for run in (relay, pigeon):
        assert run["ok"], run["problems"]
        assert run["check"]["lost"] == run["check"]["duplicated"] == 0
    assert result["targets"]["pigeon embedded"]["p50_ms"] > 0
