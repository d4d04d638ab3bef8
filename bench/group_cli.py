"""Flags, printed figures and the JSON file of the group scenarios (hot-group, group)."""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from bench.accounts import SetupError
from bench.cluster import ClusterOptions
from bench.cpu import load_average
from bench.group_run import group_options, run_scenario, scenario_env
from bench.report import machine, write_json
from bench.runner import LoadOptions, RunError
from bench.servers import ServerError
from bench.serving import print_settings, settings_changed

DEFAULTS: dict[str, dict[str, int | None]] = {
    "hot-group": {"members": 10_000, "online": 1_000},
    "group": {"members": 500, "online": None},
}


def add_group_args(parser: argparse.ArgumentParser, scenario: str) -> None:
    d = DEFAULTS[scenario]
    parser.add_argument("--mode", choices=("embedded", "cluster"), default="embedded")
    parser.add_argument("--members", type=int, default=d["members"], help="group size")
    parser.add_argument(
        "--online", type=int, default=d["online"], help="members online, one socket each"
    )
    parser.add_argument("--senders", type=int, default=4, help="members who send")
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s over all senders")
    parser.add_argument("--duration", "-D", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not timed")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--pull",
        choices=("http", "sync"),
        default="http",
        help="how members pull after a notice: GET .../messages?after= or the sync frame",
    )
    parser.add_argument("--size", type=int, default=64, help="text length of each message")
    parser.add_argument("--drain-timeout", type=float, default=15.0)
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the baseline: the private scenario at the same rate, one pair per sender",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", type=Path, default=None)


def baseline(
    args: argparse.Namespace, scratch: Any, copts: ClusterOptions, run_id: int
) -> dict[str, Any]:
    from bench.cli import run_private  # the private scenario, as `python -m bench private`

    opts = LoadOptions(
        pairs=args.senders,
        window=1,
        duration=args.duration,
        warmup=args.warmup,
        workers=1,
        rate=args.rate,
        text_size=args.size,
        progress=not args.no_progress,
    )
    run = run_private(opts, args.mode, None, copts, scratch, run_id)
    return run.to_dict()


def print_figures(figures: dict[str, Any], base: dict[str, Any] | None) -> None:
    lat, ack, check = figures["arrival_latency_ms"], figures["ack_latency_ms"], figures["check"]
    target = figures["target_p99_ms"]
    verdict = "PASS" if figures["target_met"] else "FAIL"
    print(
        f"\n{figures['label']}: group of {figures['group']['members']:,}, "
        f"{check['members']:,} online, {'hot' if figures['group']['hot'] else 'push'}"
    )
    print(
        f"  ack -> member (ms): p50 {lat.get('p50', 0)}  p95 {lat.get('p95', 0)}  "
        f"p99 {lat.get('p99', 0)} (target <= {target:.0f}: {verdict})  max {lat.get('max', 0)}"
        f"  over {lat['count']:,} (message, member) arrivals"
    )
    print(f"  send -> ack (ms): p50 {ack.get('p50', 0)}  p99 {ack.get('p99', 0)}")
    totals = figures["member_totals"]
    print(
        f"  {check['sent']:,} sent, {check['acked']:,} acked ({figures['sent_per_s']}/s); "
        f"{check['deliveries']:,} held by members; notices {totals['notices']:,}, "
        f"pulls {totals['pulls']:,} (retried {totals['pull_retries']}), "
        f"pushes {totals['pushes']:,}; setup {figures['setup_s']}s, "
        f"connect {figures['connect_s']}s"
    )
    print(
        f"  check: lost {check['lost']}, duplicated {check['duplicated']}, reordered "
        f"{check['reordered']}, unacked {check['unacked']}, send errors {check['send_errors']}, "
        f"ack seq problems {check['ack_seq_problems']}, history problems "
        f"{check['history_problems']} (one stored row per message), bad pages {check['bad_pages']}"
    )
    print(
        f"  absorbed by the client algorithm: duplicate pushes {check['duplicate_pushes']:,}, "
        f"late pushes {check['late_pushes']:,}, push gaps {check['push_gaps']:,}, pulled "
        f"messages already held {check['pull_overlap']:,}"
    )
    for line in check["examples"] + figures["problems"]:
        print(f"!!!   {line}")
    if base is not None:
        blat = base["latency_ms"]
        print(
            f"  baseline {base['label']} ({base['config']['pairs']} pairs, same rate): send -> "
            f"receiver p50 {blat['p50']} p99 {blat['p99']} ms; send -> ack p99 "
            f"{base['ack_latency_ms']['p99']} ms; {'ok' if base['ok'] else 'FAILED'}"
        )


def main_group(args: argparse.Namespace, scratch: Any, copts: ClusterOptions) -> int:
    opts = group_options(args, args.scenario)
    env = scenario_env(opts)
    print_settings(env, copts.env)
    run_id = secrets.randbits(32)
    load_before = load_average()
    try:
        figures = run_scenario(opts, args.mode, scratch, copts, run_id)
        base = None if args.no_baseline else baseline(args, scratch, copts, run_id)
    except (ServerError, RunError, SetupError, RuntimeError) as exc:
        scratch.keep = True
        print(f"\n!!! {exc}", file=sys.stderr)
        return 2
    print_figures(figures, base)
    payload = {
        "scenario": args.scenario,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "options": opts.describe(),
        "server_settings_changed": settings_changed(env, copts.env),
        "baseline": base,
        **figures,
    }
    path = write_json(args.scenario, payload, args.json)
    print(f"\nresults written to {path}")
    if not figures["ok"] or (base is not None and not base["ok"]):
        scratch.keep = True
        print("\n!!! FAILED: a correctness check failed, see above", file=sys.stderr)
        return 1
    return 0
