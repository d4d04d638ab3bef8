"""Sweeps gateways that stopped reporting: their registry entries and their queue.

A gateway killed without a goodbye leaves connection entries (which would make its users
look online and attract pushes) and a delivery queue nobody consumes. Once its heartbeat
is older than ``redis.gateway_ttl_s`` this worker removes both and marks the users for a
presence settle, so friends see them go offline within a bounded time. Entries also expire
on their own (``redis.registry_ttl_s``) should no janitor run.
"""

from __future__ import annotations

import structlog

from pigeon.actions.context import Context
from pigeon.actions.presence import connections_lost
from pigeon.common.metrics import Metrics
from pigeon.worker.base import Worker, worker

log = structlog.get_logger(__name__)


@worker
class GatewayJanitor(Worker):
    name = "janitor"

    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        super().__init__(ctx, metrics)
        self.idle_s = ctx.settings.worker.sweep_interval_s

    async def step(self) -> int:
        self.metrics.live_gateways.set(len(await self.ctx.registry.live_gateways()))
        swept = 0
        for gateway_id in await self.ctx.registry.dead_gateways():
            users = await self.ctx.registry.sweep_gateway(gateway_id)
            if users is None:
                continue
            log.warning("dead_gateway_swept", gateway_id=gateway_id, users=len(users))
            await connections_lost(self.ctx, users)
            self.metrics.gateways_swept.inc()
            swept += 1
        self.metrics.worker_items.labels(self.name).inc(swept)
        # Sweeping is rare: wait for the next round whatever happened.
        return 0
