"""Runs one load phase over several worker processes and turns their results into figures."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench import frames
from bench.cpu import CpuSample, CpuWindow, load_average, store_pids
from bench.loadgen import (
    ACKED,
    DELIVERED,
    DONE,
    ERRORS,
    MAX_DRAIN_S,
    READY,
    SLOTS,
    PairSpec,
    WorkerConfig,
    WorkerResult,
    worker_main,
)
from bench.progress import Progress
from bench.stats import Latency, RunFigures


@dataclass(frozen=True)
class LoadOptions:
    pairs: int = 50
    window: int = 10
    duration: float = 20.0
    warmup: float = 3.0
    workers: int = 2
    rate: float | None = None  # total messages/s, open loop
    text_size: int = 64
    drain_timeout: float = 10.0
    max_inflight: int = 50  # open loop: per sender; a send due beyond it is skipped
    progress: bool = True
    setup_timeout: float = 120.0

    def describe(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "window": self.window if self.rate is None else None,
            "rate": self.rate,
            "loop": "closed" if self.rate is None else "open",
            "duration_s": self.duration,
            "warmup_s": self.warmup,
            "workers": self.workers,
            "text_size": self.text_size,
            "max_inflight_per_sender": self.max_inflight if self.rate is not None else None,
        }


class RunError(RuntimeError):
    pass


def run_load(
    label: str,
    dialect: frames.Dialect,
    pairs: list[PairSpec],
    opts: LoadOptions,
    run_id: int,
    server_pids: list[int],
) -> RunFigures:
    """One measured load phase; ``server_pids`` roots the processes whose CPU is counted."""
    n_workers = max(1, min(opts.workers, len(pairs)))
    rate_per_sender = None if opts.rate is None else opts.rate / len(pairs)
    configs = [
        WorkerConfig(
            index=i,
            run_id=run_id,
            dialect=dialect,
            pairs=pairs[i::n_workers],
            window=opts.window,
            rate_per_sender=rate_per_sender,
            warmup=opts.warmup,
            duration=opts.duration,
            drain_timeout=opts.drain_timeout,
            text_size=opts.text_size,
            max_inflight=opts.max_inflight,
            start_timeout=opts.setup_timeout + 30,
        )
        for i in range(n_workers)
    ]
    return run_workers(label, opts, configs, worker_main, server_pids)


WorkerTarget = Callable[[Any, Any, Any, Any], None]


def run_workers(
    label: str,
    opts: LoadOptions,
    configs: Sequence[Any],
    target: WorkerTarget,
    server_pids: list[int],
) -> RunFigures:
    """Run ``target(config, counters, start_at, results)`` in one process per config.

    Any worker that follows :mod:`bench.loadgen`'s protocol (counter slots, start signal,
    one :class:`WorkerResult` on the queue) fits, whatever it speaks to the server.
    """
    cpu = CpuWindow(load_before=load_average(), server_known=bool(server_pids))
    ctx = mp.get_context("spawn")
    n_workers = len(configs)
    counters = ctx.Array("d", n_workers * SLOTS, lock=False)
    start_at = ctx.Value("d", 0.0, lock=False)
    results: Any = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(cfg, counters, start_at, results), daemon=True)
        for cfg in configs
    ]
    for proc in procs:
        proc.start()
    collected: list[WorkerResult] = []
    try:
        _wait_ready(counters, n_workers, procs, results, collected, opts.setup_timeout)
        start_at.value = time.time() + 0.3
        _watch(label, counters, n_workers, opts, start_at.value, procs, server_pids, cpu)
        cpu.load_after = load_average()
        collect_results(results, procs, collected, n_workers, timeout=30)
    finally:
        if start_at.value == 0.0:
            start_at.value = -1.0
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    figures = _figures(label, opts, collected)
    figures.cpu = cpu
    missing = n_workers - len(collected)
    if missing:
        figures.worker_errors.append(f"{missing} worker(s) returned no result")
    return figures


def collect_results(
    results: Any, procs: list[Any], collected: list[Any], wanted: int, *, timeout: float
) -> None:
    """Take the workers' results off their queue until ``wanted`` arrived, every worker
    is gone with nothing left queued, or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while len(collected) < wanted and time.monotonic() < deadline:
        try:
            collected.append(results.get(timeout=1))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                return


def _wait_ready(
    counters: Any,
    n_workers: int,
    procs: list[Any],
    results: Any,
    collected: list[WorkerResult],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(counters[i * SLOTS + READY] == 1.0 for i in range(n_workers)):
            return
        for i in range(n_workers):
            if counters[i * SLOTS + DONE] == 1.0 or not procs[i].is_alive():
                with contextlib.suppress(queue.Empty):
                    collected.append(results.get(timeout=5))
                errors = [r.error for r in collected if r.error]
                raise RunError(
                    "a load worker failed while connecting:\n" + "\n".join(errors or ["(died)"])
                )
        time.sleep(0.05)
    raise RunError(f"load workers not connected after {timeout:.0f}s")


def _watch(
    label: str,
    counters: Any,
    n_workers: int,
    opts: LoadOptions,
    start: float,
    procs: list[Any],
    server_pids: list[int],
    cpu: CpuWindow,
) -> None:
    total = opts.warmup + opts.duration
    bar = Progress(label, total, opts.progress)
    last_t = time.time()
    last = (0.0, 0.0)
    hard_stop = start + total + MAX_DRAIN_S + 60
    worker_pids = [p.pid for p in procs if p.pid is not None]
    stores = store_pids()
    marks = [start + opts.warmup, start + total]  # CPU samples at the window's edges
    samples: list[CpuSample] = []
    try:
        while time.time() < hard_stop:
            wake = time.time() + 0.5
            if marks and marks[0] < wake:
                time.sleep(max(0.0, marks.pop(0) - time.time()))
                samples.append(CpuSample.take(server_pids, stores, worker_pids))
                if len(samples) == 2:
                    cpu.between(*samples)
            else:
                time.sleep(0.5)
            now = time.time()
            delivered = sum(counters[i * SLOTS + DELIVERED] for i in range(n_workers))
            acked = sum(counters[i * SLOTS + ACKED] for i in range(n_workers))
            errors = sum(counters[i * SLOTS + ERRORS] for i in range(n_workers))
            dt = max(1e-6, now - last_t)
            rates = {"delivered": (delivered - last[0]) / dt, "acked": (acked - last[1]) / dt}
            last_t, last = now, (delivered, acked)
            elapsed = now - start
            phase = "drain" if elapsed >= total else "measure"
            if elapsed < opts.warmup:
                phase = "warm-up"
            if errors:
                phase += f" errors={errors:.0f}"
            bar.update(max(0.0, elapsed), phase, rates)
            done = all(counters[i * SLOTS + DONE] == 1.0 for i in range(n_workers))
            if done or not any(p.is_alive() for p in procs):
                return
    finally:
        bar.close()


def _figures(label: str, opts: LoadOptions, collected: list[WorkerResult]) -> RunFigures:
    figures = RunFigures(label=label, duration=opts.duration, config=opts.describe())
    d = opts.duration
    figures.sent_per_s = sum(r.sent for r in collected) / d
    figures.acked_per_s = sum(r.acked for r in collected) / d
    figures.delivered_per_s = sum(r.delivered for r in collected) / d
    figures.latency = Latency.from_us([r.latencies_us for r in collected])
    figures.ack_latency = Latency.from_us([r.ack_latencies_us for r in collected])
    for r in sorted(collected, key=lambda r: r.index):
        figures.check.add(r.check)
        figures.skipped += r.skipped
        for code, count in r.error_codes.items():
            figures.error_codes[code] = figures.error_codes.get(code, 0) + count
        for kind, count in r.other_frames.items():
            figures.other_frames[kind] = figures.other_frames.get(kind, 0) + count
        figures.closed.extend(r.closed)
        if r.error:
            figures.worker_errors.append(f"worker {r.index} failed:\n{r.error}")
    return figures
