"""Sweeps gateways that stopped reporting: their connection entries and their queue.

A gateway killed without a goodbye leaves connection entries (which would make its users
look online and attract pushes) and a delivery queue nobody consumes. Once its heartbeat
is older than ``redis.gateway_ttl_s`` this worker removes both and marks the users for a
presence settle, so friends see them go offline within a bounded time. Entries also expire
on their own (``redis.registry_ttl_s``) should no janitor run. A gateway's heartbeat runs
apart from its other work (see :mod:`pigeon.gateway.service`), so a live gateway is never
swept for being busy.
"""

from __future__ import annotations

import time

import structlog

from pigeon.actions.context import Context
from pigeon.actions.presence import connections_lost
from pigeon.bus.queue import DeliveryQueue
from pigeon.common.metrics import Metrics
from pigeon.worker.base import Worker, worker

log = structlog.get_logger(__name__)


@worker
class GatewayJanitor(Worker):
    name = "janitor"

    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        super().__init__(ctx, metrics)
        self.idle_s = ctx.settings.worker.sweep_interval_s

    @property
    def queue(self) -> DeliveryQueue:
        return self.ctx.router.queue

    async def step(self) -> int:
        directory = self.ctx.directory
        self.metrics.live_gateways.set(len(await directory.live_gateways()))
        swept = 0
        for gateway_id in await directory.dead_gateways():
            if not await directory.lock_sweep(gateway_id):
                continue
            started = time.monotonic()
            try:
                users = await self.ctx.connections.drop_gateway(gateway_id)
                # Only if it is still dead: a gateway back under the same id keeps its queue.
                if not await directory.is_alive(gateway_id):
                    await self.queue.discard(gateway_id)
                    await directory.forget(gateway_id)
            finally:
                await directory.unlock_sweep(gateway_id)
            log.warning(
                "dead_gateway_swept",
                gateway_id=gateway_id,
                users=len(users),
                ms=round((time.monotonic() - started) * 1000),
            )
            await connections_lost(self.ctx, users)
            self.metrics.gateways_swept.inc()
            swept += 1
        self.metrics.worker_items.labels(self.name).inc(swept)
        # Sweeping is rare: wait for the next round whatever happened.
        return 0
