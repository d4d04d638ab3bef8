"""Wiring: from settings to the database, bus, router, action context and gateway.

Embedded mode (no Redis URL) uses the in-process registry and queue; cluster mode the
Redis ones. Everything above this module is the same code in both modes.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
from dataclasses import dataclass

import structlog

from pigeon.actions import presence
from pigeon.actions.context import Context
from pigeon.actions.handoff import Handoffs
from pigeon.actions.publisher import Publisher
from pigeon.actions.throttle import Limiter, MemoryLimiter
from pigeon.bus.fanout_queue import FanoutQueue, MemoryFanoutQueue
from pigeon.bus.memory import (
    MemoryConnections,
    MemoryGatewayDirectory,
    MemoryNoticeBook,
    MemoryPresenceBook,
    MemoryQueue,
)
from pigeon.bus.notices import NoticeBook
from pigeon.bus.queue import DeliveryQueue
from pigeon.bus.registry import Connections, GatewayDirectory, PresenceBook
from pigeon.bus.router import Router
from pigeon.common.metrics import Metrics
from pigeon.common.settings import Settings, ensure_secret_key
from pigeon.gateway.service import Gateway
from pigeon.storage.database import Database
from pigeon.worker.runner import WorkerPool

log = structlog.get_logger(__name__)

GATEWAY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    ctx: Context
    metrics: Metrics
    gateway: Gateway | None
    closers: list[object]
    workers: WorkerPool | None = None

    async def start(self) -> None:
        if self.gateway is not None:
            await self.gateway.start()
        if self.workers is not None:
            await self.workers.start()

    async def bus_ready(self) -> bool:
        """Redis answers (always true embedded)."""
        for closer in self.closers:
            ping = getattr(closer, "ping", None)
            if ping is not None and not await ping():
                return False
        return True

    async def drain(self) -> None:
        if self.gateway is not None:
            await self.gateway.drain()

    async def stop(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        if not self.settings.clustered:
            with contextlib.suppress(Exception):
                await presence.settle_before_exit(self.ctx)
        await self.ctx.handoffs.close()
        for closer in self.closers:
            aclose = getattr(closer, "aclose", None)
            if aclose is not None:
                await aclose()
        await self.db.dispose()


def gateway_id_for(settings: Settings) -> str:
    """The configured gateway id, or one allocated from host, port and randomness."""
    if settings.gateway.gateway_id:
        if not GATEWAY_ID.match(settings.gateway.gateway_id):
            raise ValueError("a gateway id is 1-64 letters, digits, '.', '_' or '-'")
        return settings.gateway.gateway_id
    if not settings.clustered:
        return "embedded"
    return f"{socket.gethostname()}-{settings.port}-{secrets.token_hex(3)}"


async def build_runtime(
    settings: Settings, *, with_gateway: bool, with_workers: bool = False
) -> Runtime:
    ensure_secret_key(settings)
    db = Database(
        settings.database_url,
        pool_size=settings.database.pool_size,
        echo=settings.database.echo,
        sqlite_synchronous=settings.database.sqlite_synchronous,
    )
    connections: Connections
    presence_book: PresenceBook
    directory: GatewayDirectory
    notices: NoticeBook
    queue: DeliveryQueue
    fanout: FanoutQueue
    limiter: Limiter
    closers: list[object] = []
    if settings.clustered:
        from pigeon.bus.redis_bus import connect_redis_bus

        bus = await connect_redis_bus(settings)
        connections, presence_book, directory = bus.connections, bus.presence, bus.directory
        notices, queue, fanout = bus.notices, bus.queue, bus.fanout
        limiter = bus.limiter
        closers.append(bus.closer)
    else:
        memory_connections = MemoryConnections()
        connections, presence_book = memory_connections, MemoryPresenceBook(memory_connections)
        directory, notices = MemoryGatewayDirectory(), MemoryNoticeBook()
        queue, fanout = MemoryQueue(), MemoryFanoutQueue()
        limiter = MemoryLimiter()
    router = Router(connections, queue)
    handoffs = Handoffs(db)
    ctx = Context(
        settings=settings,
        db=db,
        connections=connections,
        presence_book=presence_book,
        directory=directory,
        notices=notices,
        router=router,
        publisher=Publisher(router, fanout, handoffs),
        handoffs=handoffs,
        limiter=limiter,
    )
    metrics = Metrics()
    gateway = None
    if with_gateway:
        gateway_id = gateway_id_for(settings)
        settings.gateway.gateway_id = gateway_id
        gateway = Gateway(settings, ctx, queue, gateway_id, metrics)
    workers = WorkerPool(ctx, metrics, settings.worker.only) if with_workers else None
    return Runtime(settings, db, ctx, metrics, gateway, closers, workers)
