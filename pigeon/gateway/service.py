"""A gateway's lifecycle: consume its queue, keep its registry entries alive, drain on stop."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from pigeon.actions.context import Context
from pigeon.bus.delivery import Location
from pigeon.bus.queue import DeliveryQueue
from pigeon.common.metrics import Metrics
from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import KickedFrame, ReconnectFrame
from pigeon.common.protocol.session import Close, SessionLimits
from pigeon.common.settings import Settings
from pigeon.gateway.connection import Connection
from pigeon.gateway.hub import Hub

log = structlog.get_logger(__name__)


def session_limits(settings: Settings) -> SessionLimits:
    g = settings.gateway
    return SessionLimits(
        auth_timeout_s=g.auth_timeout_s,
        heartbeat_interval_s=g.heartbeat_interval_s,
        heartbeat_timeout_s=g.heartbeat_timeout_s,
        max_frame_bytes=g.max_frame_bytes,
        rate_per_s=g.rate_per_s,
        rate_burst=g.rate_burst,
        max_bad_frames=g.max_bad_frames,
    )


class Gateway:
    """Holds this process's sockets and consumes only this gateway's delivery queue."""

    def __init__(
        self,
        settings: Settings,
        ctx: Context,
        queue: DeliveryQueue,
        gateway_id: str,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.queue = queue
        self.gateway_id = gateway_id
        self.metrics = metrics
        self.limits = session_limits(settings)
        self.hub = Hub(gateway_id)
        self.sockets: set[Connection] = set()
        self.draining = False
        self._all_closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(), name="gateway-consume"),
            asyncio.create_task(self._tick(), name="gateway-tick"),
            asyncio.create_task(self._refresh_registry(), name="gateway-registry"),
        ]
        log.info("gateway_started", gateway_id=self.gateway_id)

    async def adopt(self, connection: Connection) -> None:
        """An authenticated socket: register it here and in the registry.

        A previous connection of the same user and device kind is closed with
        "logged in elsewhere", on this gateway or on another one.
        """
        kicked = encode_server_frame(KickedFrame(reason="logged_in_elsewhere"))
        local = self.hub.attach(connection)
        if local is not None:
            local.close(CloseCode.REPLACED, "logged in elsewhere", kicked)
        location = Location(self.gateway_id, connection.device, connection.id)
        previous = await self.ctx.registry.register(connection.user_id, location)
        self.metrics.connections.set(self.hub.count())
        if (
            previous is not None
            and previous.connection_id != connection.id
            and previous.gateway_id != self.gateway_id
        ):
            await self.ctx.router.close_connection(
                previous.gateway_id,
                connection.user_id,
                previous.connection_id,
                KickedFrame(reason="logged_in_elsewhere"),
                CloseCode.REPLACED,
            )
        log.info(
            "socket_authenticated",
            user=connection.user_id,
            device=connection.device,
            connection=connection.id,
        )

    async def forget(self, connection: Connection) -> None:
        if self.hub.detach(connection):
            location = Location(self.gateway_id, connection.device, connection.id)
            try:
                await self.ctx.registry.unregister(connection.user_id, location)
            except Exception:
                log.exception("registry_unregister_failed", user=connection.user_id)
        self.metrics.connections.set(self.hub.count())

    async def drain(self, grace_s: float = 5.0) -> None:
        """Stop taking sockets, ask clients to reconnect elsewhere, flush what is queued."""
        self.draining = True
        farewell = encode_server_frame(ReconnectFrame(reason="server_shutdown"))
        for connection in list(self.sockets):
            connection.close(CloseCode.SERVICE_RESTART, "server shutdown", farewell)
        if self.sockets:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), grace_s)

    def socket_closed(self, connection: Connection) -> None:
        self.sockets.discard(connection)
        if self.draining and not self.sockets:
            self._all_closed.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _consume(self) -> None:
        while True:
            try:
                async for delivery in self.queue.consume(self.gateway_id):
                    self.hub.deliver(delivery)
                    self.metrics.deliveries.inc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("queue_consume_failed", gateway_id=self.gateway_id)
                await asyncio.sleep(1)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            now = time.monotonic()
            for connection in list(self.sockets):
                for action in connection.session.tick(now):
                    if isinstance(action, Close):
                        log.info("socket_timed_out", code=int(action.code), reason=action.reason)
                        connection.close(action.code, action.reason)

    async def _refresh_registry(self) -> None:
        interval = max(1.0, self.settings.gateway.heartbeat_interval_s)
        while True:
            await asyncio.sleep(interval)
            entries = [
                (c.user_id, Location(self.gateway_id, c.device, c.id))
                for c in self.hub.connections()
            ]
            try:
                await self.ctx.registry.refresh(entries)
            except Exception:
                log.exception("registry_refresh_failed", gateway_id=self.gateway_id)
