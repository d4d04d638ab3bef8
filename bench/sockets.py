"""``python -m bench sockets``: what an idle authenticated socket costs the server in memory.

For each server (a bare ``websockets`` server and the bench relay as baselines, then
Pigeon embedded or one gateway of a cluster) it measures RSS with no sockets, opens N
sockets from several worker processes and 127.0.0.x source addresses, lets each ping at
the announced heartbeat interval, waits until RSS settles, holds a while longer and
measures again: (after - before) / N is the cost of one socket. Every socket must still
be open at the end and have had its pongs, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import multiprocessing as mp
import queue
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import frames
from bench.accounts import SetupError, register_users
from bench.cluster import ClusterOptions, start_cluster
from bench.holder import DONE, DROPPED, FAILED, OPENED, PONGS, SLOTS, HolderConfig, holder_main
from bench.holder import HolderResult as HolderResult
from bench.loadgen import NOFILE_LIMIT
from bench.report import machine, write_json
from bench.servers import (
    ManagedProcess,
    ServerError,
    free_port,
    python_module,
    start_embedded,
    start_relay,
    wait_tcp,
)

SETTLE_WINDOW = 5  # samples, one a second, that must agree for RSS to count as settled


def vm_rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pids: list[int]) -> int:
    return sum(vm_rss_kib(pid) for pid in pids)


def settle(pids: list[int], limit_s: float) -> tuple[int, float]:
    """Wait until RSS stops moving (the last samples within 1 MiB or 0.5%); (RSS, waited)."""
    started = time.monotonic()
    samples: list[int] = []
    while True:
        samples.append(rss_kib(pids))
        window = samples[-SETTLE_WINDOW:]
        if len(window) == SETTLE_WINDOW:
            spread = max(window) - min(window)
            if spread <= max(1024, window[-1] // 200):
                return window[-1], time.monotonic() - started
        if time.monotonic() - started > limit_s:
            return samples[-1], time.monotonic() - started
        time.sleep(1.0)


def descendants(root: int) -> list[int]:
    """``root`` and every living process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found = [root]
    for pid in found:
        found.extend(child for child, parent in parents.items() if parent == pid)
    return found


def pid_listening_on(root: int, port: int) -> int:
    """The process below ``root`` whose command line names ``--port <port>``."""
    for pid in descendants(root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for flag, value in itertools.pairwise(argv):
            if flag == b"--port" and value == str(port).encode():
                return pid
    raise ServerError(f"no process below {root} runs with --port {port}")


@dataclass(frozen=True)
class Options:
    sockets: int = 6000
    workers: int = 2
    heartbeat_s: float = 10.0
    hold_s: float = 30.0
    settle_s: float = 120.0
    deflate: bool = True
    progress: bool = True


@dataclass
class Figures:
    label: str
    sockets: int
    opened: int = 0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    rss_peak_kib: int = 0
    settled_after_s: float = 0.0
    open_s: float = 0.0
    interval_s: float = 0.0
    pings: int = 0
    pongs: int = 0
    late_pongs: int = 0
    without_pong: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def kib_per_socket(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / max(1, self.opened)

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.opened == self.sockets
            and not self.dropped
            and self.without_pong == 0
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kib_per_socket"] = round(self.kib_per_socket, 2)
        data["failed"] = self.failed[:20]
        data["ok"] = self.ok
        return data


@dataclass(frozen=True)
class Target:
    """A running server to hold sockets on."""

    label: str
    url: str
    pids: list[int]
    auths: list[str]  # first frame of each socket ("" for none)
    config: dict[str, Any] = field(default_factory=dict)


def _bar(total: float, desc: str, enabled: bool, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)


def measure(target: Target, opts: Options) -> Figures:
    """Hold ``len(target.auths)`` sockets on the target and measure what they cost."""
    figures = Figures(label=target.label, sockets=len(target.auths), config=dict(target.config))
    figures.rss_before_kib, _ = settle(target.pids, 30)
    ctx = mp.get_context("spawn")
    n = max(1, min(opts.workers, len(target.auths)))
    counters = ctx.Array("d", n * SLOTS, lock=False)
    stop = ctx.Value("b", 0, lock=False)
    results: Any = ctx.Queue()
    configs = [
        HolderConfig(
            index=i,
            url=target.url,
            auths=target.auths[i::n],
            local_addr=f"127.0.0.{10 + i}",
            interval_s=opts.heartbeat_s,
            deflate=opts.deflate,
        )
        for i in range(n)
    ]
    procs = [ctx.Process(target=holder_main, args=(c, counters, stop, results)) for c in configs]
    for proc in procs:
        proc.start()

    def total(slot: int) -> int:
        return int(sum(counters[i * SLOTS + slot] for i in range(n)))

    try:
        started = time.monotonic()
        _wait_opened(figures, total, opts, n)
        figures.open_s = time.monotonic() - started
        figures.rss_after_kib, figures.settled_after_s = settle(target.pids, opts.settle_s)
        figures.rss_peak_kib = _hold(target, opts, total)
        figures.rss_after_kib = rss_kib(target.pids)
        figures.rss_peak_kib = max(figures.rss_peak_kib, figures.rss_after_kib)
    finally:
        stop.value = 1
        _collect(figures, results, n)
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return figures


def _wait_opened(figures: Figures, total: Callable[[int], int], opts: Options, n: int) -> None:
    bar = _bar(figures.sockets, f"{figures.label}: opening", opts.progress, "sockets")
    shown = 0
    try:
        while total(OPENED) + total(FAILED) < figures.sockets and total(DONE) < n:
            time.sleep(0.5)
            opened = total(OPENED)
            if bar is not None:
                bar.update(opened - shown)
                bar.set_postfix_str(f"failed={total(FAILED)}")
            shown = opened
    finally:
        if bar is not None:
            bar.update(total(OPENED) - shown)
            bar.close()


def _hold(target: Target, opts: Options, total: Callable[[int], int]) -> int:
    """Keep the sockets pinging for ``hold_s``; the highest RSS seen meanwhile."""
    bar = _bar(opts.hold_s, f"{target.label}: holding", opts.progress, "s")
    peak = 0
    started = time.monotonic()
    shown = 0.0
    try:
        while (elapsed := time.monotonic() - started) < opts.hold_s:
            time.sleep(1.0)
            peak = max(peak, rss_kib(target.pids))
            if bar is not None:
                step = round(min(elapsed, opts.hold_s) - shown, 1)
                bar.update(step)
                shown += step
                bar.set_postfix_str(
                    f"rss={peak / 1024:.0f}MiB pongs={total(PONGS)} dropped={total(DROPPED)}"
                )
    finally:
        if bar is not None:
            bar.close()
    return peak


def _collect(figures: Figures, results: Any, n: int) -> None:
    for _ in range(n):
        try:
            result: HolderResult = results.get(timeout=120)
        except queue.Empty:
            figures.errors.append("a worker sent no result")
            continue
        if result.error:
            figures.errors.append(result.error)
        figures.opened += result.opened
        figures.failed += result.failed
        figures.pings += result.pings
        figures.pongs += result.pongs
        figures.late_pongs += result.late
        figures.without_pong += result.without_pong
        figures.interval_s = max(figures.interval_s, result.interval_s)
        for code, count in result.dropped.items():
            figures.dropped[code] = figures.dropped.get(code, 0) + count


# --- the servers --------------------------------------------------------------------------


def pigeon_env(opts: Options) -> dict[str, str]:
    """The announced heartbeat interval, and the timeout at three intervals; a longer auth
    deadline; cheap password hashes, or registering thousands of users takes minutes
    (argon2id's default cost is ~80 ms and 64 MiB a hash here; that memory is freed)."""
    return {
        # Thousands of sockets authenticating at once on a busy machine: the auth deadline
        # counts from the socket's opening, not from when the server gets to it.
        "PIGEON_GATEWAY__AUTH_TIMEOUT_S": "30",
        "PIGEON_AUTH__PASSWORD_HASH_TIME_COST": "1",
        "PIGEON_AUTH__PASSWORD_HASH_MEMORY_KIB": "1024",
        "PIGEON_GATEWAY__HEARTBEAT_INTERVAL_S": str(opts.heartbeat_s),
        "PIGEON_GATEWAY__HEARTBEAT_TIMEOUT_S": str(3 * opts.heartbeat_s),
    }


def register(base: str, count: int, progress: bool) -> list[str]:
    """N fresh users, registered 8 at a time; one auth frame each."""
    bar = _bar(count, "registering users", progress, "users")
    try:
        users = asyncio.run(
            register_users(
                base,
                count,
                secrets.randbits(32),
                concurrency=8,
                on_done=(lambda: bar.update(1)) if bar is not None else None,
            )
        )
    finally:
        if bar is not None:
            bar.close()
    return [frames.auth_frame("pigeon", token=u.token) for u in users]


def run_bare(opts: Options, scratch: Path) -> Figures:
    port = free_port()
    proc = ManagedProcess(
        "bare websockets",
        python_module("bench.bare", "--port", str(port)),
        scratch / "bare.log",
    )
    try:
        wait_tcp(proc, "127.0.0.1", port)
        target = Target(
            "bare websockets", f"ws://127.0.0.1:{port}/", [proc.proc.pid], [""] * opts.sockets
        )
        return measure(target, opts)
    finally:
        proc.stop()


def run_relay(opts: Options, scratch: Path, impl: str) -> Figures:
    proc, url = start_relay(impl, scratch)
    try:
        auths = [frames.auth_frame("relay", relay_id=i + 1) for i in range(opts.sockets)]
        return measure(Target(f"bench relay ({impl})", url, [proc.proc.pid], auths), opts)
    finally:
        proc.stop()


def run_embedded(opts: Options, scratch: Path) -> Figures:
    proc, base = start_embedded(scratch / "data", scratch, pigeon_env(opts))
    try:
        auths = register(base, opts.sockets, opts.progress)
        pids = descendants(proc.proc.pid)
        url = base.replace("http://", "ws://") + "/ws"
        return measure(Target("pigeon embedded", url, pids, auths), opts)
    finally:
        proc.stop()


def run_cluster(opts: Options, scratch: Path, copts: ClusterOptions) -> Figures:
    env = (*copts.env, *pigeon_env(opts).items())
    cluster = start_cluster(ClusterOptions(**{**asdict(copts), "gateways": 1, "env": env}), scratch)
    try:
        auths = register(cluster.api, opts.sockets, opts.progress)
        url = cluster.gateways[0]
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        pid = pid_listening_on(cluster.proc.proc.pid, port)
        target = Target("pigeon cluster (one gateway)", url, [pid], auths, cluster.describe())
        return measure(target, opts)
    finally:
        cluster.stop()


# --- the scenario ---------------------------------------------------------------------------


def add_sockets_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sockets", "-N", type=int, default=6000, help="sockets to hold")
    parser.add_argument(
        "--workers", type=int, default=0, help="socket-holding processes (0: 2, or more for N)"
    )
    parser.add_argument("--mode", choices=("embedded", "cluster"), default="embedded")
    parser.add_argument(
        "--heartbeat", type=float, default=10.0, help="heartbeat interval given to Pigeon (s)"
    )
    parser.add_argument("--hold", type=float, default=30.0, help="seconds held after settling")
    parser.add_argument("--settle", type=float, default=120.0, help="longest wait for RSS (s)")
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="clients do not offer permessage-deflate (browsers do)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure only Pigeon")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/")


def sockets_options(args: argparse.Namespace) -> Options:
    if args.sockets < 1:
        raise SystemExit("--sockets must be at least 1")
    workers = args.workers or max(2, math.ceil(args.sockets / (NOFILE_LIMIT // 2)))
    if args.sockets / workers > NOFILE_LIMIT - 500:
        raise SystemExit(f"more than {NOFILE_LIMIT - 500} sockets per worker: add --workers")
    return Options(
        sockets=args.sockets,
        workers=workers,
        heartbeat_s=args.heartbeat,
        # Every socket pings at least once while held (the first ping comes within an
        # interval of opening).
        hold_s=max(args.hold, 1.5 * args.heartbeat),
        settle_s=args.settle,
        deflate=not args.no_deflate,
        progress=not args.no_progress,
    )


def report(runs: list[Figures]) -> str:
    head = f"{'server':32} {'sockets':>8} {'before':>9} {'after':>9} {'KiB/socket':>11}  checks"
    lines = [head, "-" * len(head)]
    for r in runs:
        checks = "ok" if r.ok else _problems(r)
        lines.append(
            f"{r.label:32} {r.opened:>8} {r.rss_before_kib / 1024:>7.1f}Mi "
            f"{r.rss_after_kib / 1024:>7.1f}Mi {r.kib_per_socket:>11.1f}  {checks}"
        )
    return "\n".join(lines)


def _problems(r: Figures) -> str:
    parts = []
    if r.opened != r.sockets:
        parts.append(f"{r.sockets - r.opened} not opened")
    if r.dropped:
        parts.append(f"dropped {r.dropped}")
    if r.without_pong:
        parts.append(f"{r.without_pong} without pong")
    if r.errors:
        parts.append(f"{len(r.errors)} worker errors")
    return "; ".join(parts)


def run_sockets(
    args: argparse.Namespace, scratch: Path, copts: ClusterOptions, relay_impl: str
) -> int:
    opts = sockets_options(args)
    runs: list[Figures] = []
    try:
        if not args.no_baseline:
            runs.append(run_bare(opts, scratch))
            runs.append(run_relay(opts, scratch, relay_impl))
        if args.mode == "cluster":
            runs.append(run_cluster(opts, scratch, copts))
        else:
            runs.append(run_embedded(opts, scratch))
    except (ServerError, SetupError) as exc:
        print(f"\n!!! {exc}", file=sys.stderr)
        return 2
    print()
    print(report(runs))
    payload = {
        "scenario": "sockets",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "options": asdict(opts),
        "runs": [r.to_dict() for r in runs],
    }
    path = write_json("sockets", payload, args.json)
    print(f"\nresults written to {path}")
    failed = [r for r in runs if not r.ok]
    for r in failed:
        print(f"!!! {r.label}: {_problems(r)}", file=sys.stderr)
        for error in r.errors[:3]:
            print(error, file=sys.stderr)
    return 1 if failed else 0
