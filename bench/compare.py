"""``python -m bench compare``: the relay, Pigeon (embedded, cluster) and Matrix Synapse on
the same 1:1 scenario and load options, one table of ratios to the relay, JSON and plots.

The relay is the ceiling of this machine with this load generator; every other system is
shown as a multiple of it, so a slow machine moves all rows together.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.accounts import SetupError
from bench.cli import (
    DEFAULT_RELAY,
    Scratch,
    add_cluster_args,
    add_load_args,
    cluster_options,
    load_options,
    run_in_scratch,
    run_private,
    run_relay,
)
from bench.cluster import cluster_available
from bench.plots import add_plot_args, write_plots
from bench.relay import IMPLEMENTATIONS
from bench.report import aligned, machine, problems_text, write_json
from bench.runner import LoadOptions, RunError
from bench.servers import ServerError, tcp_open
from bench.stats import RunFigures

RATIO_FIELDS = ("delivered_per_s", "p50_ms", "p99_ms", "cpu_us_per_msg")


def figures_of(run: RunFigures) -> dict[str, float]:
    return {
        "delivered_per_s": run.delivered_per_s,
        "p50_ms": run.latency.p50,
        "p99_ms": run.latency.p99,
        "cpu_us_per_msg": run.server_cpu_us_per_msg,
    }


def ratios(run: RunFigures, baseline: RunFigures) -> dict[str, float | None]:
    """Each figure of ``run`` divided by the relay's (None where the relay's is 0)."""
    mine, base = figures_of(run), figures_of(baseline)
    return {k: (round(mine[k] / base[k], 4) if base[k] > 0 else None) for k in RATIO_FIELDS}


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def compare_table(runs: list[RunFigures], baseline: RunFigures) -> str:
    head = (
        "system",
        "delivered/s",
        "x relay",
        "p50 ms",
        "x relay",
        "p99 ms",
        "x relay",
        "CPU us/msg",
        "x relay",
        "check",
    )
    rows: list[tuple[str, ...]] = []
    for run in runs:
        r = ratios(run, baseline)
        f = figures_of(run)
        rows.append(
            (
                run.label,
                f"{f['delivered_per_s']:,.0f}",
                _times(r["delivered_per_s"]),
                f"{f['p50_ms']:,.1f}",
                _times(r["p50_ms"]),
                f"{f['p99_ms']:,.1f}",
                _times(r["p99_ms"]),
                f"{f['cpu_us_per_msg']:,.0f}" if run.cpu.server_known else "-",
                _times(r["cpu_us_per_msg"]),
                ("ok" if run.ok else "FAILED") + (" (busy machine)" if run.busy_machine else ""),
            )
        )
    return aligned(head, rows)


def payload(runs: list[RunFigures], baseline: RunFigures, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "scenario": "compare",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "baseline": baseline.label,
        "runs": [run.to_dict() for run in runs],
        "ratios_vs_relay": {run.label: ratios(run, baseline) for run in runs},
        "latency_cdf_ms": {
            run.label: [[q, round(ms, 3)] for q, ms in run.latency.cdf] for run in runs
        },
        **extra,
    }


def failed_run(label: str, opts: LoadOptions, why: str) -> RunFigures:
    failed = RunFigures(label=label, duration=opts.duration, config=opts.describe())
    failed.worker_errors.append(f"could not run: {why}")
    return failed


def attempt(label: str, opts: LoadOptions, body: Callable[[], RunFigures]) -> RunFigures:
    """One system's run; a failure to start is a failed row, not the end of the comparison."""
    try:
        return body()
    except (ServerError, RunError, SetupError) as exc:
        print(f"\n!!! {label}: {exc}", file=sys.stderr)
        return failed_run(label, opts, str(exc))


def synapse_unavailable(args: argparse.Namespace) -> str | None:
    from urllib.parse import urlsplit

    if args.no_synapse:
        return "skipped (--no-synapse)"
    pg = urlsplit(args.pg_url)
    if not tcp_open(pg.hostname or "127.0.0.1", pg.port or 5432):
        return f"PostgreSQL not reachable at {args.pg_url}"
    return None


def run_systems(
    args: argparse.Namespace, opts: LoadOptions, scratch: Scratch, run_id: int
) -> tuple[list[RunFigures], RunFigures, dict[str, Any]]:
    from bench.synapse.run import LABEL, run_synapse

    baseline = run_relay(opts, args.impl, scratch, run_id)
    runs = [baseline]
    copts = cluster_options(args)
    runs.append(
        attempt(
            "pigeon embedded",
            opts,
            lambda: run_private(opts, "embedded", None, copts, scratch, run_id),
        )
    )
    skipped: dict[str, str] = {}
    reason = "skipped (--no-cluster)" if args.no_cluster else cluster_available(copts)
    if reason is None:
        runs.append(
            attempt(
                "pigeon cluster",
                opts,
                lambda: run_private(opts, "cluster", None, copts, scratch, run_id),
            )
        )
    else:
        skipped["pigeon cluster"] = reason
    reason = synapse_unavailable(args)
    if reason is None:
        runs.append(
            attempt(
                LABEL,
                opts,
                lambda: run_synapse(opts, scratch.path, run_id, args.pg_url, args.keep_db),
            )
        )
    else:
        skipped[LABEL] = reason
    for label, why in skipped.items():
        print(f"{label} not measured: {why}", file=sys.stderr)
    return runs, baseline, {"skipped": skipped} if skipped else {}


def add_compare_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, default=DEFAULT_RELAY)
    parser.add_argument("--no-cluster", action="store_true", help="skip Pigeon cluster mode")
    parser.add_argument("--no-synapse", action="store_true", help="skip Matrix Synapse")
    add_load_args(parser)
    add_cluster_args(parser)
    add_plot_args(parser)


def main(args: argparse.Namespace) -> int:
    opts = load_options(args)
    if opts.rate is not None:
        raise SystemExit("compare is closed loop only: drop --rate")
    run_id = secrets.randbits(32)
    scratch = Scratch()
    outcome = run_in_scratch(scratch, lambda: run_systems(args, opts, scratch, run_id))
    if isinstance(outcome, int):
        return outcome
    runs, baseline, extra = outcome
    assert baseline is not None, "the relay runs first and is the baseline"
    print()
    print(compare_table(runs, baseline))
    print()
    print(problems_text(runs))
    results = payload(runs, baseline, extra)
    path = write_json("compare", results, args.json)
    print(f"\nresults written to {path}")
    for png in write_plots(results, Path(args.plots), args.hot_group_json):
        print(f"plot written to {png}")
    failed = [run.label for run in runs if not run.ok]
    if failed:
        print(f"\n!!! FAILED: {', '.join(failed)}: see the problems above", file=sys.stderr)
        return 1
    return 0
