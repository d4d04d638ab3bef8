"""``python -m bench hot-group`` and ``python -m bench group``: one group, online members,
a few senders at a fixed total rate; the time from each sender's ack to each member.

hot-group: 10,000 members, 1,000 online, delivered by notice + pull (target p99 <= 1 s).
group: 500 members, all online, delivered by push (target p99 <= 200 ms); the hot-group
threshold is raised above the group's size, since 500 members is hot by default.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.cluster import ClusterOptions
from bench.group_checks import (
    GroupCheck,
    arrival_latencies_ms,
    check_acks,
    check_history,
    check_members,
)
from bench.group_setup import GroupSetup, history, make_group
from bench.loadgen import ACKED, DELIVERED, DONE, ERRORS, READY, SENT, SLOTS
from bench.members import Endpoint, GroupWorkerConfig, GroupWorkerResult, group_worker_main
from bench.progress import Progress
from bench.runner import collect_results
from bench.serving import FAST_HASH, Served, serve
from bench.stats import percentile

MAX_DRAIN_S = 300.0  # members still behind this long after the last send count as lost


@dataclass(frozen=True)
class GroupOptions:
    scenario: str
    members: int
    online: int
    senders: int
    rate: float
    duration: float
    warmup: float
    workers: int
    pull: str
    hot: bool
    target_p99_ms: float
    text_size: int
    drain_timeout: float
    progress: bool

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "progress"}


def scenario_env(opts: GroupOptions) -> dict[str, str]:
    """What a group scenario changes on Pigeon besides the benchmark's flood limits."""
    env = {**FAST_HASH, "PIGEON_MESSAGING__GROUP_INVITE_REQUIRES_FRIENDSHIP": "false"}
    if not opts.hot:
        env["PIGEON_MESSAGING__HOT_GROUP_THRESHOLD"] = str(max(500, opts.members + 1))
    return env


def run_group(opts: GroupOptions, served: Served, run_id: int) -> dict[str, Any]:
    t0 = time.monotonic()
    setup = asyncio.run(
        make_group(served.api, opts.members, opts.senders, run_id, opts.hot, opts.progress)
    )
    setup_s = time.monotonic() - t0
    print(
        f"{opts.scenario}: {opts.members:,} members registered, group {setup.conversation_id} "
        f"created ({'hot' if setup.hot else 'push'}) in {setup_s:.1f}s",
        file=sys.stderr,
    )
    results, start, connect_s = _run_workers(opts, served, setup, run_id)
    members = [m for r in results for m in r.members]
    sent = [s for r in results for s in r.sent]
    check = GroupCheck()
    seqs = check_acks(check, sent, setup.start_seq)
    check_history(
        check,
        asyncio.run(history(served.api, setup.members[0], setup.conversation_id, setup.start_seq)),
        sent,
        setup.start_seq,
    )
    check_members(check, members, seqs, setup.start_seq)
    window_start = int((start + opts.warmup) * 1e9)
    arrivals, early = arrival_latencies_ms(members, sent, window_start)
    problems = [e for r in results for e in ([r.error] if r.error else []) + r.closed]
    ack_ms = sorted(
        (s.ack_ns - s.sent_ns) / 1e6 for s in sent if s.seq and s.sent_ns >= window_start
    )
    return {
        "label": f"{opts.scenario} {served.mode}",
        "ok": check.failures == 0 and not problems and check.acked > 0,
        "mode": served.mode,
        "group": {
            "conversation_id": setup.conversation_id,
            "members": len(setup.members),
            "hot": setup.hot,
            "marked_hot": setup.marked_hot,
            "start_seq": setup.start_seq,
        },
        "setup_s": round(setup_s, 1),
        "connect_s": round(connect_s, 1),
        "sent_per_s": round(check.sent / (opts.warmup + opts.duration), 2),
        "arrival_latency_ms": _summary(arrivals),
        "arrivals_before_ack": early,
        "ack_latency_ms": _summary(ack_ms),
        "target_p99_ms": opts.target_p99_ms,
        "target_met": bool(arrivals) and percentile(arrivals, 99) <= opts.target_p99_ms,
        "check": check.to_dict(),
        "member_totals": {
            "notices": sum(m.notices for m in members),
            "pulls": sum(m.pulls for m in members),
            "pushes": sum(m.pushes for m in members),
            "pull_retries": sum(m.pull_retries for m in members),
        },
        "other_frames": _merge([r.other_frames for r in results]),
        "problems": problems[:20],
        "arrival_ms": [round(v, 2) for v in arrivals],
    }


def _run_workers(
    opts: GroupOptions, served: Served, setup: GroupSetup, run_id: int
) -> tuple[list[GroupWorkerResult], float, float]:
    gws = served.gateways
    online = setup.members[: opts.online]
    members = [Endpoint(u.id, u.token, gws[i % len(gws)]) for i, u in enumerate(online)]
    senders = [
        Endpoint(u.id, u.token, gws[(i + 1) % len(gws)]) for i, u in enumerate(setup.senders)
    ]
    n = max(1, min(opts.workers, len(members)))
    ctx = mp.get_context("spawn")
    counters = ctx.Array("d", n * SLOTS, lock=False)
    control = ctx.Array("d", 2, lock=False)
    results: Any = ctx.Queue()
    configs, offset = [], 0
    for i in range(n):
        mine = senders[i::n]
        configs.append(
            GroupWorkerConfig(
                index=i,
                run_id=run_id,
                api=served.api,
                conversation_id=setup.conversation_id,
                members=members[i::n],
                senders=mine,
                sender_offset=offset,
                rate_per_sender=opts.rate / max(1, len(senders)),
                duration=opts.warmup + opts.duration,
                pull="http" if opts.pull == "http" else "sync",
                text_size=opts.text_size,
            )
        )
        offset += len(mine)
    procs = [
        ctx.Process(target=group_worker_main, args=(c, counters, control, results), daemon=True)
        for c in configs
    ]
    for p in procs:
        p.start()
    collected: list[GroupWorkerResult] = []
    t0 = time.monotonic()
    try:
        _wait(lambda: all(counters[i * SLOTS + READY] == 1.0 for i in range(n)), procs, 600)
        connect_s = time.monotonic() - t0
        control[0] = time.time() + 0.3
        _watch(opts, counters, control, n, len(members), procs)
        collect_results(results, procs, collected, n, timeout=60)
    finally:
        if control[0] == 0.0:
            control[0] = -1.0
        control[1] = 1.0
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    if len(collected) < n:
        missing = GroupWorkerResult(index=-1, error=f"{n - len(collected)} worker(s) sent nothing")
        collected.append(missing)
    return collected, control[0], connect_s


def _wait(ready: Any, procs: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not all(p.is_alive() for p in procs):
            raise RuntimeError("a load process died while connecting (see its traceback above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"members not connected after {timeout:.0f}s")
        time.sleep(0.1)


def _watch(
    opts: GroupOptions, counters: Any, control: Any, n: int, online: int, procs: list[Any]
) -> None:
    """Progress until the senders are done and every member holds every acked message
    (or nothing moved for ``drain_timeout`` seconds, or ``MAX_DRAIN_S`` passed); then tell
    the workers to stop."""
    total = opts.warmup + opts.duration
    bar = Progress(opts.scenario, total, opts.progress)
    start = control[0]
    last = (0.0, 0.0)
    last_t = time.time()
    moved = time.monotonic()
    seen = -1.0
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            now = time.time()

            def total_of(slot: int) -> float:
                return float(sum(counters[i * SLOTS + slot] for i in range(n)))

            sent, acked, delivered = total_of(SENT), total_of(ACKED), total_of(DELIVERED)
            errors = total_of(ERRORS)
            dt = max(1e-6, now - last_t)
            rates = {"acked": (acked - last[0]) / dt, "held": (delivered - last[1]) / dt}
            last, last_t = (acked, delivered), now
            phase = "drain" if now - start >= total else "send"
            if errors:
                phase += f" errors={errors:.0f}"
            bar.update(max(0.0, now - start), phase, rates)
            if acked + delivered + errors != seen:
                seen, moved = acked + delivered + errors, time.monotonic()
            done = now > start + total + 0.5 and acked + errors >= sent
            if done and delivered >= acked * online:
                return
            if now > start + total and time.monotonic() - moved > opts.drain_timeout:
                return
            if now > start + total + MAX_DRAIN_S:
                return
            if any(counters[i * SLOTS + DONE] == 1.0 for i in range(n)):
                return
    finally:
        control[1] = 1.0
        bar.close()


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(values[-1], 2),
    }


def _merge(dicts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def group_options(args: argparse.Namespace, scenario: str) -> GroupOptions:
    hot = scenario == "hot-group"
    online = args.members if args.online is None else args.online
    if not 2 <= args.members <= 10_000 or not 1 <= online <= args.members:
        raise SystemExit("--members must be 2..10,000 and --online 1..--members")
    if not 1 <= args.senders <= online or args.rate <= 0:
        raise SystemExit("--senders must be 1..--online and --rate > 0")
    return GroupOptions(
        scenario=scenario,
        members=args.members,
        online=online,
        senders=args.senders,
        rate=args.rate,
        duration=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        pull=args.pull,
        hot=hot,
        target_p99_ms=1000.0 if hot else 200.0,
        text_size=args.size,
        drain_timeout=args.drain_timeout,
        progress=not args.no_progress,
    )


def run_scenario(
    opts: GroupOptions, mode: str, scratch: Any, copts: ClusterOptions, run_id: int
) -> dict[str, Any]:
    with serve(mode, scratch, copts, scenario_env(opts)) as served:
        figures = run_group(opts, served, run_id)
        figures["cluster"] = served.describe or None
        return figures
