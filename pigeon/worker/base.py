"""The shape of a background consumer, and the registry of consumer kinds."""

from __future__ import annotations

import asyncio
from typing import ClassVar, TypeVar

from pigeon.actions.context import Context
from pigeon.common.metrics import Metrics
from pigeon.common.outage import Outage

WORKERS: dict[str, type[Worker]] = {}
W = TypeVar("W", bound="type[Worker]")


def worker(cls: W) -> W:
    """Class decorator: make a worker kind available under ``cls.name``."""
    WORKERS[cls.name] = cls
    return cls


class Worker:
    """Consumes one queue. ``step`` does one batch and says how much it did; the loop
    sleeps ``idle_s`` between empty batches."""

    name: ClassVar[str] = ""
    idle_s: float = 1.0

    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        self.ctx = ctx
        self.metrics = metrics
        # Failures of ``run`` are reported here by the runner; a step that succeeds ends
        # the outage.
        self.outage = Outage(f"worker_{self.name}")

    async def step(self) -> int:
        raise NotImplementedError

    async def run(self) -> None:
        while True:
            done = await self.step()
            self.outage.succeeded()
            self.metrics.worker_items.labels(self.name).inc(done)
            if not done:
                await asyncio.sleep(self.idle_s)
