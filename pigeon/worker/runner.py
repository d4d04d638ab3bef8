"""Runs a set of workers in one process; a worker that fails is restarted after a pause."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from pigeon.actions.context import Context
from pigeon.common.metrics import Metrics
from pigeon.worker.base import WORKERS, Worker

log = structlog.get_logger(__name__)


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
        pause = 0.5
        while True:
            try:
                await worker.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis or the database down: one line when it starts and one when the
                # worker gets through again, never a traceback per retry.
                worker.outage.failed(exc, worker=worker.name)
                worker.metrics.worker_failures.labels(worker.name).inc()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
