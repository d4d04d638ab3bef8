"""Runs a set of workers in one process; a worker that fails is restarted after a short pause
(growing to ``MAX_PAUSE_S`` while it keeps failing)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from pigeon.actions.context import Context
from pigeon.common.metrics import Metrics
from pigeon.worker.base import WORKERS, Worker

log = structlog.get_logger(__name__)

PAUSE_S = 0.25
MAX_PAUSE_S = 2.0
HEALTHY_S = 5.0


def load() -> dict[str, type[Worker]]:
    """Every worker kind (importing the modules registers them)."""
    import pigeon.worker.fanout
    import pigeon.worker.handoff
    import pigeon.worker.janitor
    import pigeon.worker.presence  # noqa: F401

    return dict(WORKERS)


class WorkerPool:
    def __init__(self, ctx: Context, metrics: Metrics, only: list[str] | None = None) -> None:
        kinds = load()
        unknown = sorted(set(only or []) - set(kinds))
        if unknown:
            raise ValueError(f"unknown workers: {', '.join(unknown)}; known: {sorted(kinds)}")
        names = only or sorted(kinds)
        self.workers = [kinds[name](ctx, metrics) for name in names]
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.workers]

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_running(w), name=f"worker-{w.name}")
            for w in self.workers
        ]
        log.info("workers_started", workers=self.names)

    async def _keep_running(self, worker: Worker) -> None:
        pause = PAUSE_S
        while True:
            started = time.monotonic()
            try:
                await worker.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis or the database down: one line when it starts and one when the
                # worker gets through again, never a traceback per retry.
                worker.outage.failed(exc, worker=worker.name)
                worker.metrics.worker_failures.labels(worker.name).inc()
                if time.monotonic() - started > HEALTHY_S:
                    pause = PAUSE_S  # it ran fine for a while: a fresh failure
                await asyncio.sleep(pause)
                # Short even at most: the hand-off and fan-out bounds count from the end
                # of an outage, and the outage is logged once however often we retry.
                pause = min(pause * 2, MAX_PAUSE_S)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
