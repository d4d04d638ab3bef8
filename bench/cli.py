"""``python -m bench <scenario>``: argument parsing and the scenarios themselves."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import frames
from bench.accounts import SetupError, User, befriend, discover_gateways, register_users
from bench.chaos import add_chaos_args
from bench.chaos import main as chaos_main
from bench.cluster import ClusterOptions, cluster_available, start_cluster
from bench.group_cli import add_group_args, main_group
from bench.loadgen import NOFILE_LIMIT, ConnSpec, PairSpec
from bench.relay import IMPLEMENTATIONS
from bench.report import machine, problems_text, table, write_json
from bench.runner import LoadOptions, RunError, run_load
from bench.search_cli import add_search_args, main_search
from bench.servers import ServerError, add_database_args, start_embedded, start_relay
from bench.sockets import add_sockets_args, run_sockets
from bench.stats import RunFigures
from bench.sync_cli import add_sync_args, main_sync
from bench.team import PAIRS, WINDOW, print_targets, run_team

DEFAULT_RELAY = "starlette"  # measured the faster of the two here: see docs/benchmarks.md
CONNS_PER_SOURCE_ADDR = 20_000


def source_addr(conn_index: int, total_conns: int) -> str | None:
    """Spread very many connections over 127.0.0.x source addresses (ephemeral ports)."""
    if total_conns <= CONNS_PER_SOURCE_ADDR:
        return None
    return f"127.0.0.{1 + conn_index // CONNS_PER_SOURCE_ADDR}"


class Scratch:
    """A temporary folder for data and logs, kept (and named) when something failed."""

    def __init__(self, prefix: str = "pigeon-bench-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = False

    def close(self) -> None:
        if self.keep:
            print(f"logs and data kept in {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# --- relay ------------------------------------------------------------------------------


def relay_pairs(url: str, count: int) -> list[PairSpec]:
    total = 2 * count
    pairs = []
    for i in range(count):
        sender_id, receiver_id = 2 * i + 1, 2 * i + 2
        pairs.append(
            PairSpec(
                pair=i,
                to=receiver_id,
                receiver_id=receiver_id,
                sender_id=sender_id,
                sender=ConnSpec(
                    url, frames.auth_frame("relay", relay_id=sender_id), source_addr(2 * i, total)
                ),
                receiver=ConnSpec(
                    url,
                    frames.auth_frame("relay", relay_id=receiver_id),
                    source_addr(2 * i + 1, total),
                ),
            )
        )
    return pairs


def run_relay(opts: LoadOptions, impl: str, scratch: Scratch, run_id: int) -> RunFigures:
    proc, url = start_relay(impl, scratch.path)
    try:
        return run_load(
            f"relay ({impl})", "relay", relay_pairs(url, opts.pairs), opts, run_id, [proc.proc.pid]
        )
    finally:
        proc.stop()


# --- Pigeon -----------------------------------------------------------------------------


def ws_url(base: str) -> str:
    return base.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/ws"


def pigeon_pairs(users: list[User], gateways: list[str], count: int) -> list[PairSpec]:
    """Pair i: users 2i (sender) and 2i+1 (receiver), on different gateways when there are two."""
    total = 2 * count
    pairs = []
    for i in range(count):
        sender, receiver = users[2 * i], users[2 * i + 1]
        g = len(gateways)
        pairs.append(
            PairSpec(
                pair=i,
                to=receiver.id,
                receiver_id=receiver.id,
                sender_id=sender.id,
                sender=ConnSpec(
                    gateways[i % g],
                    frames.auth_frame("pigeon", token=sender.token),
                    source_addr(2 * i, total),
                ),
                receiver=ConnSpec(
                    gateways[(i + 1) % g],
                    frames.auth_frame("pigeon", token=receiver.token),
                    source_addr(2 * i + 1, total),
                ),
            )
        )
    return pairs


async def prepare_users(base: str, count: int, run_id: int) -> tuple[list[User], str]:
    users = await register_users(base, 2 * count, run_id)
    friendship = await befriend(base, [(users[2 * i], users[2 * i + 1]) for i in range(count)])
    return users, friendship


def choose_gateways(api: list[str], launcher: list[str], base: str) -> tuple[list[str], str]:
    """Gateway URLs from GET /api/v1/gateway; the launcher's when the API shows fewer."""
    if api and len(api) >= min(2, len(launcher) or 1):
        return api, "GET /api/v1/gateway"
    if launcher:
        return launcher, "the launcher's output"
    return [ws_url(base)], "the server URL"


def run_pigeon(
    label: str,
    opts: LoadOptions,
    base: str,
    run_id: int,
    server_pids: list[int],
    launcher_gateways: list[str] | None = None,
) -> RunFigures:
    t0 = time.monotonic()
    users, friendship = asyncio.run(prepare_users(base, opts.pairs, run_id))
    gateways, source = choose_gateways(
        asyncio.run(discover_gateways(base, users)), launcher_gateways or [], base
    )
    print(
        f"{label}: {len(users)} users registered ({friendship}) in "
        f"{time.monotonic() - t0:.1f}s; gateways (from {source}): {', '.join(gateways)}",
        file=sys.stderr,
    )
    pairs = pigeon_pairs(users, gateways, opts.pairs)
    figures = run_load(label, "pigeon", pairs, opts, run_id, server_pids)
    figures.config["gateways"] = gateways
    figures.config["gateways_from"] = source
    figures.config["friendship"] = friendship
    return figures


def with_embedded(
    scratch: Scratch, env: dict[str, str], body: Callable[[str, list[int]], RunFigures]
) -> RunFigures:
    data = scratch.path / f"data-{secrets.token_hex(3)}"
    proc, base = start_embedded(data, scratch.path, env)
    try:
        return body(base, [proc.proc.pid])
    finally:
        proc.stop()


def with_cluster(
    scratch: Scratch,
    copts: ClusterOptions,
    body: Callable[[str, list[str], list[int]], RunFigures],
) -> RunFigures:
    cluster = start_cluster(copts, scratch.path)
    try:
        figures = body(cluster.api, cluster.gateways, [cluster.proc.proc.pid])
        figures.config["cluster"] = cluster.describe()
    finally:
        cluster.stop()
    return figures


def label_for(mode: str, opts: LoadOptions) -> str:
    base = f"pigeon {mode}"
    return base if opts.rate is None else f"{base} @ {opts.rate:,.0f}/s"


def run_private(
    opts: LoadOptions,
    mode: str,
    url: str | None,
    copts: ClusterOptions,
    scratch: Scratch,
    run_id: int,
) -> RunFigures:
    label = label_for(mode, opts)
    if mode == "embedded":
        return with_embedded(
            scratch,
            dict(copts.env),
            lambda base, pids: run_pigeon(label, opts, base, run_id, pids),
        )
    if mode == "cluster":
        return with_cluster(
            scratch,
            copts,
            lambda api, gws, pids: run_pigeon(label, opts, api, run_id, pids, gws or None),
        )
    if not url:
        raise SystemExit("--mode url needs --url http://host:port")
    return run_pigeon(label, opts, url.rstrip("/"), run_id, [])


# --- output -----------------------------------------------------------------------------


def finish(
    scenario: str,
    runs: list[RunFigures],
    baseline: RunFigures | None,
    json_path: Path | None,
    extra: dict[str, Any],
) -> int:
    print()
    print(table(runs, baseline))
    print()
    print(problems_text(runs))
    if scenario == "team":
        print()
        print_targets(runs[1:])
    payload: dict[str, Any] = {
        "scenario": scenario,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "baseline": baseline.label if baseline else None,
        "runs": [run.to_dict() for run in runs],
        "ratios_vs_baseline": {
            run.label: round(run.delivered_per_s / baseline.delivered_per_s, 4)
            for run in runs
            if baseline is not None and baseline.delivered_per_s > 0 and run is not baseline
        },
        **extra,
    }
    path = write_json(scenario, payload, json_path)
    print(f"\nresults written to {path}")
    failed = [run.label for run in runs if not run.ok]
    if failed:
        print(f"\n!!! FAILED: {', '.join(failed)}: see the problems above", file=sys.stderr)
        return 1
    return 0


# --- argument parsing -------------------------------------------------------------------


def add_load_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", "-P", type=int, default=50, help="sender/receiver pairs")
    parser.add_argument(
        "--window", "-W", type=int, default=10, help="messages in flight per sender (closed loop)"
    )
    parser.add_argument(
        "--duration", "-D", type=float, default=20.0, help="measured seconds (after the warm-up)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop: total messages/s over all senders (no window)",
    )
    parser.add_argument(
        "--max-inflight",
        type=int,
        default=50,
        help="open loop: a sender skips a due send while this many are unacked",
    )
    parser.add_argument("--size", type=int, default=64, help="text length of each message")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="at the end, stop waiting for outstanding acks/deliveries after "
        "this many seconds without progress",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the JSON results (default bench/results/)",
    )


def add_cluster_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--platforms", type=int, default=1)
    parser.add_argument(
        "--cluster-workers", type=int, default=1, help="background worker processes in the cluster"
    )
    add_database_args(parser, "a fresh database for each run")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379",
        help="Redis server (an empty numbered database is used and flushed)",
    )


def load_options(args: argparse.Namespace) -> LoadOptions:
    for name in ("pairs", "window", "workers"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be at least 1")
    per_worker = 2 * args.pairs / args.workers
    if per_worker > NOFILE_LIMIT - 500:
        raise SystemExit(
            f"{per_worker:.0f} sockets per load worker exceed the {NOFILE_LIMIT} open files a "
            "process may hold: add --workers"
        )
    if args.duration <= 0 or args.warmup < 0:
        raise SystemExit("--duration must be > 0 and --warmup >= 0")
    return LoadOptions(
        pairs=args.pairs,
        window=args.window,
        duration=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        rate=args.rate,
        text_size=args.size,
        drain_timeout=args.drain_timeout,
        max_inflight=args.max_inflight,
        progress=not args.no_progress,
    )


def cluster_options(args: argparse.Namespace) -> ClusterOptions:
    return ClusterOptions(
        gateways=args.gateways,
        platforms=args.platforms,
        workers=args.cluster_workers,
        pg_url=args.pg_url,
        redis_url=args.redis,
        keep_db=args.keep_db,
        env=tuple(_key_value(item) for item in args.server_env),
    )


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise SystemExit(f"--server-env wants KEY=VALUE, got {item!r}")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Pigeon benchmarks: the bare relay baseline, the 1:1 scenario, the "
        "chaos run and the memory per held socket.",
    )
    sub = parser.add_subparsers(dest="scenario", required=True)
    relay = sub.add_parser("relay", help="the bare WebSocket relay baseline")
    relay.add_argument("--impl", choices=(*IMPLEMENTATIONS, "both"), default=DEFAULT_RELAY)
    add_load_args(relay)
    private = sub.add_parser("private", help="the 1:1 scenario against Pigeon")
    private.add_argument("--mode", choices=("embedded", "cluster", "url"), default="embedded")
    private.add_argument("--url", help="with --mode url: the running server's HTTP base URL")
    add_load_args(private)
    add_cluster_args(private)
    every = sub.add_parser("all", help="relay, then Pigeon embedded (and cluster), one run")
    every.add_argument("--impl", choices=IMPLEMENTATIONS, default=DEFAULT_RELAY)
    every.add_argument(
        "--rate-check",
        type=float,
        default=1000.0,
        help="also run Pigeon open loop at this total rate (0: skip)",
    )
    every.add_argument("--no-cluster", action="store_true", help="skip cluster mode")
    add_load_args(every)
    add_cluster_args(every)
    chaos = sub.add_parser(
        "chaos",
        help="a cluster under kill -9, SIGSTOP and Redis loss: proves every ack is delivered",
    )
    add_chaos_args(chaos)
    from bench.compare import add_compare_args  # bench.compare builds on this module
    from bench.plots import add_plot_args

    add_compare_args(
        sub.add_parser("compare", help="relay, Pigeon and Matrix Synapse side by side, plots")
    )
    plot = sub.add_parser("plot", help="PNG plots of a results JSON")
    plot.add_argument("results", type=Path, help="a results JSON (compare-*.json)")
    add_plot_args(plot)
    for name, what in (
        ("hot-group", "a 10,000-member hot group, 1,000 online: notice + pull, ack -> member"),
        ("group", "a 500-member group, all online, push: ack -> member"),
    ):
        scenario = sub.add_parser(name, help=what)
        add_group_args(scenario, name)
        add_cluster_args(scenario)
    team = sub.add_parser("team", help="a small team: 10 pairs x 4 in flight, both modes")
    team.add_argument("--mode", choices=("embedded", "cluster", "both"), default="both")
    team.add_argument("--impl", choices=IMPLEMENTATIONS, default=DEFAULT_RELAY)
    add_load_args(team)
    add_cluster_args(team)
    team.set_defaults(pairs=PAIRS, window=WINDOW)
    sync = sub.add_parser("sync", help="one user syncs 10,000 messages waiting in 50 chats")
    add_sync_args(sync)
    add_cluster_args(sync)
    search = sub.add_parser("search", help="full-text search over 1,000,000 messages, both modes")
    add_search_args(search)
    add_cluster_args(search)
    held = sub.add_parser("sockets", help="memory per idle authenticated socket, vs baselines")
    add_sockets_args(held)
    add_cluster_args(held)
    return parser


def run_chaos_scenario(args: argparse.Namespace) -> int:
    scratch = Scratch(prefix="pigeon-chaos-")
    code = 2
    try:
        code, keep = chaos_main(args, scratch.path)
        scratch.keep = keep
    except BaseException:
        scratch.keep = True
        raise
    finally:
        scratch.close()
    return code


def with_scratch(body: Callable[[Scratch], int]) -> int:
    scratch = Scratch()
    try:
        return body(scratch)
    except BaseException:
        scratch.keep = True
        raise
    finally:
        scratch.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.scenario == "chaos":
        return run_chaos_scenario(args)
    if args.scenario in ("compare", "plot"):
        from bench import compare, plots

        return compare.main(args) if args.scenario == "compare" else plots.plot_main(args)
    if args.scenario in ("hot-group", "group"):
        return with_scratch(lambda scratch: main_group(args, scratch, cluster_options(args)))
    if args.scenario == "sync":
        return with_scratch(lambda scratch: main_sync(args, scratch, cluster_options(args)))
    if args.scenario == "search":
        return with_scratch(lambda scratch: main_search(args, scratch, cluster_options(args)))
    if args.scenario == "sockets":
        held = Scratch(prefix="pigeon-sockets-")
        try:
            code = run_sockets(args, held.path, cluster_options(args), DEFAULT_RELAY)
            held.keep = code != 0
        finally:
            held.close()
        return code
    opts = load_options(args)
    run_id = secrets.randbits(32)
    scratch = Scratch()

    def scenario() -> Outcome:
        if args.scenario == "relay":
            impls = IMPLEMENTATIONS if args.impl == "both" else (args.impl,)
            runs = [run_relay(opts, impl, scratch, run_id) for impl in impls]
            return runs, max(runs, key=lambda r: r.delivered_per_s), {}
        if args.scenario == "private":
            copts = cluster_options(args)
            return [run_private(opts, args.mode, args.url, copts, scratch, run_id)], None, {}
        if args.scenario == "team":
            copts = cluster_options(args)
            return run_team(
                args.mode,
                lambda: run_relay(opts, args.impl, scratch, run_id),
                lambda mode: run_private(opts, mode, None, copts, scratch, run_id),
                cluster_available(copts) if args.mode != "embedded" else None,
            )
        return run_all(args, opts, scratch, run_id)

    outcome = run_in_scratch(scratch, scenario)
    if isinstance(outcome, int):
        return outcome
    runs, baseline, extra = outcome
    return finish(args.scenario, runs, baseline, args.json, extra)


Outcome = tuple[list[RunFigures], RunFigures | None, dict[str, Any]]


def run_in_scratch(scratch: Scratch, body: Callable[[], Outcome]) -> Outcome | int:
    """Run a scenario's parts; an exit code instead if setting one up failed (2) or it was
    interrupted (130). The scratch folder is kept when anything failed."""
    runs: list[RunFigures] = []
    try:
        outcome = body()
        runs = outcome[0]
        return outcome
    except (ServerError, RunError, SetupError) as exc:
        scratch.keep = True
        print(f"\n!!! {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        scratch.keep = True
        return 130
    finally:
        if any(not r.ok for r in runs):
            scratch.keep = True
        scratch.close()


def run_all(
    args: argparse.Namespace, opts: LoadOptions, scratch: Scratch, run_id: int
) -> tuple[list[RunFigures], RunFigures, dict[str, Any]]:
    baseline = run_relay(opts, args.impl, scratch, run_id)
    runs = [baseline]
    rated = None
    if args.rate_check and opts.rate is None:
        rated = LoadOptions(**{**opts.__dict__, "rate": args.rate_check})
    copts = cluster_options(args)

    def attempt(o: LoadOptions, mode: str) -> None:
        try:
            runs.append(run_private(o, mode, None, copts, scratch, run_id))
        except (ServerError, RunError, SetupError) as exc:
            print(f"\n!!! {label_for(mode, o)}: {exc}", file=sys.stderr)
            failed = RunFigures(label=label_for(mode, o), duration=o.duration, config=o.describe())
            failed.worker_errors.append(f"could not run: {exc}")
            runs.append(failed)

    attempt(opts, "embedded")
    if rated:
        attempt(rated, "embedded")
    extra: dict[str, Any] = {}
    reason = "skipped (--no-cluster)" if args.no_cluster else cluster_available(copts)
    if reason is None:
        attempt(opts, "cluster")
        if rated:
            attempt(rated, "cluster")
    else:
        print(f"cluster mode not measured: {reason}", file=sys.stderr)
        extra["cluster_skipped"] = reason
    return runs, baseline, extra
