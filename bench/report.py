"""The machine's description, the printed table and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import RunFigures

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
    }


def table(runs: list[RunFigures], baseline: RunFigures | None = None) -> str:
    head = (
        "run",
        "delivered/s",
        "acked/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "ack p99 ms",
        "server CPU us/msg",
        "vs relay",
        "check",
    )
    rows: list[tuple[str, ...]] = []
    for run in runs:
        ratio = ""
        if baseline is not None and baseline.delivered_per_s > 0:
            ratio = f"{run.delivered_per_s / baseline.delivered_per_s:.1%}"
        lat = run.latency
        rows.append(
            (
                run.label,
                f"{run.delivered_per_s:,.0f}",
                f"{run.acked_per_s:,.0f}",
                f"{lat.p50:.1f}",
                f"{lat.p95:.1f}",
                f"{lat.p99:.1f}",
                f"{lat.max:.1f}",
                f"{run.ack_latency.p99:.1f}",
                f"{run.server_cpu_us_per_msg:,.0f}" if run.cpu.server_known else "-",
                ratio,
                ("ok" if run.ok else "FAILED")
                + (" (rate not kept)" if run.skipped else "")
                + (" (busy machine)" if run.busy_machine else ""),
            )
        )
    return aligned(head, rows)


def aligned(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def problems_text(runs: list[RunFigures]) -> str:
    out: list[str] = []
    for run in runs:
        found = run.problems()
        if found:
            out.append(f"!!! {run.label}: CORRECTNESS / ERROR CHECK FAILED")
            out.extend(f"!!!   {line}" for line in found)
        check = run.check
        out.append(
            f"    {run.label}: {check.acked:,} acked, {check.received:,} received, "
            f"lost {check.lost}, duplicated {check.duplicated}, reordered {check.reordered}, "
            f"seq gaps {check.seq_gaps}, unacked {check.unacked}"
            + (f", skipped sends {run.skipped}" if run.skipped else "")
            + (f", other frames {run.other_frames}" if run.other_frames else "")
        )
        if run.skipped:
            rate = run.config.get("rate") or 0
            out.append(
                f"!!! {run.label}: the server did not keep up with {rate:,.0f} messages/s: "
                f"{run.skipped:,} sends were skipped (a sender had "
                f"{run.config.get('max_inflight_per_sender')} unacked); sent "
                f"{run.sent_per_s:,.0f}/s"
            )
        cpu = run.cpu
        if not cpu.server_known:
            out.append(f"    {run.label}: the server is not a child of the benchmark: no CPU split")
            continue
        out.append(
            f"    {run.label}: CPU seconds in the {run.duration:.0f} s window: server "
            f"{cpu.server_s:.1f}, PostgreSQL+Redis {cpu.store_s:.1f}, load generator "
            f"{cpu.loadgen_s:.1f}, everything else {cpu.other_s:.1f}"
        )
        if run.busy_machine:
            out.append(
                f"!!! {run.label}: other work used {cpu.other_s:.1f} CPU s of the window: "
                "the machine was busy, rates are understated; re-run on a quiet machine"
            )
    return "\n".join(out)


def write_json(scenario: str, payload: dict[str, Any], path: Path | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path or RESULTS_DIR / f"{scenario}-{stamp}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n")
    return target
