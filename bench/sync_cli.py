"""Flags, printed figures and the JSON file of ``python -m bench sync``."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.accounts import SetupError
from bench.cluster import ClusterOptions
from bench.cpu import load_average
from bench.report import machine, write_json
from bench.servers import ServerError
from bench.serving import Served, print_settings, serve, settings_changed
from bench.sync_run import SyncingClient, check_held, prepare, sdk_sync, send_backlog

TARGET_S = 1.0


def add_sync_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("embedded", "cluster"), default="embedded")
    parser.add_argument("--messages", type=int, default=10_000, help="messages waiting in all")
    parser.add_argument("--conversations", type=int, default=50, help="peers, one chat each")
    parser.add_argument(
        "--pull",
        choices=("sync", "http"),
        default="sync",
        help="pages by the sync frame (as the SDK) or GET .../messages?after=",
    )
    parser.add_argument("--repeats", type=int, default=3, help="reconnects measured")
    parser.add_argument("--no-sdk", action="store_true", help="do not time the Python SDK too")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", type=Path, default=None)


def run_sync(args: argparse.Namespace, served: Served, run_id: int) -> dict[str, Any]:
    per_peer = args.messages // args.conversations
    t0 = time.monotonic()
    user, peers, friendship = asyncio.run(prepare(served.api, args.conversations, run_id))
    gws = served.gateways
    from tqdm import tqdm

    with tqdm(
        total=per_peer * len(peers),
        desc="backlog",
        unit="msg",
        disable=args.no_progress,
        file=sys.stderr,
    ) as bar:
        acked = asyncio.run(
            send_backlog(gws[0], peers, user, per_peer, run_id, lambda: bar.update(1))
        )
    backlog_s = time.monotonic() - t0
    print(
        f"sync: {len(acked):,} messages from {len(peers)} peers ({friendship}) waiting "
        f"for user {user.id}; set up in {backlog_s:.1f}s",
        file=sys.stderr,
    )
    runs: list[dict[str, Any]] = []
    for i in range(args.repeats):
        client = SyncingClient(served.api, gws[i % len(gws)], user, args.pull)
        seconds = asyncio.run(client.run())
        check = check_held(client.held, acked)
        runs.append(
            {
                "seconds": round(seconds, 3),
                "pages": client.pages,
                "conversations": len(client.held),
                "check": {**check.__dict__, "failures": check.failures},
            }
        )
        print(
            f"  reconnect {i + 1}: {seconds:.3f}s for {check.held:,} messages in "
            f"{client.pages} pages; lost {check.lost}, duplicated {check.duplicated}, "
            f"reordered {check.reordered}, seq mismatch {check.seq_mismatch}",
            file=sys.stderr,
        )
    sdk: dict[str, Any] | None = None
    if not args.no_sdk:
        seconds, held = asyncio.run(sdk_sync(served.api, user, len(acked)))
        sdk = {"seconds": round(seconds, 3), "held": held, "ok": held == len(acked)}
    median = statistics.median(r["seconds"] for r in runs)
    return {
        "label": f"sync {served.mode}",
        "ok": all(r["check"]["failures"] == 0 for r in runs)
        and len(acked) == per_peer * args.conversations
        and (sdk is None or sdk["ok"]),
        "messages": len(acked),
        "conversations": args.conversations,
        "setup_s": round(backlog_s, 1),
        "runs": runs,
        "median_s": median,
        "target_s": TARGET_S,
        "target_met": median <= TARGET_S,
        "sdk": sdk,
        "cluster": served.describe or None,
    }


def main_sync(args: argparse.Namespace, scratch: Any, copts: ClusterOptions) -> int:
    if args.conversations < 1 or args.messages < args.conversations or args.repeats < 1:
        raise SystemExit("--messages >= --conversations >= 1 and --repeats >= 1")
    print_settings({}, copts.env)
    load_before = load_average()
    try:
        with serve(args.mode, scratch, copts, {}) as served:
            figures = run_sync(args, served, secrets.randbits(32))
    except (ServerError, SetupError, RuntimeError) as exc:
        scratch.keep = True
        print(f"\n!!! {exc}", file=sys.stderr)
        return 2
    verdict = "PASS" if figures["target_met"] else "FAIL"
    print(
        f"\n{figures['label']}: {figures['messages']:,} messages in "
        f"{figures['conversations']} conversations held after {figures['median_s']:.3f}s "
        f"(median of {len(figures['runs'])}; target <= {TARGET_S:.0f} s: {verdict})"
    )
    if figures["sdk"] is not None:
        sdk = figures["sdk"]
        print(f"  Python SDK: {sdk['seconds']:.3f}s, {sdk['held']:,} messages held")
    print(f"  correctness: {'ok' if figures['ok'] else 'FAILED'}")
    payload = {
        "scenario": "sync",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "options": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "server_settings_changed": settings_changed({}, copts.env),
        **figures,
    }
    payload["options"].pop("server_env", None)
    path = write_json("sync", payload, args.json)
    print(f"\nresults written to {path}")
    if not figures["ok"]:
        scratch.keep = True
        print("\n!!! FAILED: a correctness check failed, see above", file=sys.stderr)
        return 1
    return 0
