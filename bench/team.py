"""``python -m bench team``: a small team's chat, the private scenario at 10 pairs x 4 in
flight (closed loop), in embedded and cluster mode, beside the relay with the same load.

The figure is the median latency from send to the receiver (target <= 10 ms); the relay
run, measured in the same invocation, shows what the machine and load generator cost.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench.stats import RunFigures

TARGET_P50_MS = 10.0
PAIRS, WINDOW = 10, 4


def run_team(
    mode: str,
    relay: Callable[[], RunFigures],
    pigeon: Callable[[str], RunFigures],
    cluster_reason: str | None,
) -> tuple[list[RunFigures], RunFigures, dict[str, Any]]:
    """The relay, then Pigeon in each mode asked for (cluster only where it can run)."""
    baseline = relay()
    runs = [baseline]
    extra: dict[str, Any] = {"target_p50_ms": TARGET_P50_MS}
    modes = ["embedded", "cluster"] if mode == "both" else [mode]
    if "cluster" in modes and cluster_reason is not None:
        print(f"cluster mode not measured: {cluster_reason}", file=sys.stderr)
        extra["cluster_skipped"] = cluster_reason
        modes.remove("cluster")
    runs.extend(pigeon(m) for m in modes)
    extra["targets"] = {
        run.label: {"p50_ms": round(run.latency.p50, 2), "met": run.latency.p50 <= TARGET_P50_MS}
        for run in runs[1:]
    }
    return runs, baseline, extra


def print_targets(runs: list[RunFigures]) -> None:
    for run in runs:
        verdict = "PASS" if run.latency.p50 <= TARGET_P50_MS else "FAIL"
        print(
            f"{run.label}: p50 {run.latency.p50:.1f} ms (target <= {TARGET_P50_MS:.0f} ms: "
            f"{verdict}), p99 {run.latency.p99:.1f} ms, {run.delivered_per_s:,.0f} delivered/s"
        )
