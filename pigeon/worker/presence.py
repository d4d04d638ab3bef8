"""Settles presence marks that are due (after a disconnect's grace period, or a sweep)."""

from __future__ import annotations

from pigeon.actions.context import Context
from pigeon.actions.presence import settle_due
from pigeon.common.metrics import Metrics
from pigeon.worker.base import Worker, worker


@worker
class PresenceSettler(Worker):
    name = "presence"

    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        super().__init__(ctx, metrics)
        self.idle_s = ctx.settings.presence.settle_interval_s

    async def step(self) -> int:
        return await settle_due(self.ctx)
