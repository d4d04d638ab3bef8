"""A gateway's lifecycle: consume its queue, keep its registry entries alive, drain on stop.

Beside the sockets it runs five loops, each apart so that none can hold up another:

    consume    this gateway's delivery queue, to the local sockets
    tick       the session clocks (auth and heartbeat timeouts)
    refresh    keeps this gateway's connection entries alive, re-creates lost ones,
               retries failed unregisters
    report     the heartbeat: url and load for discovery, and liveness (a gateway whose
               heartbeat stops is swept as dead, so nothing slow may run in this loop)
    recover    after Redis trouble (it lost its data, or calls failed): re-register every
               socket and send ``notice`` frames for conversations that moved meanwhile,
               since pushes may have been lost with the queue

Failures of Redis are logged once when they start and once when they end (with counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable

import structlog

from pigeon.actions import presence
from pigeon.actions.accounts import session_is_live
from pigeon.actions.context import Context
from pigeon.actions.devices import note_device_active
from pigeon.actions.resync import missed_activity
from pigeon.bus.delivery import Location
from pigeon.bus.queue import DeliveryQueue
from pigeon.bus.registry import GatewayInfo
from pigeon.common.clock import now_ms
from pigeon.common.metrics import Metrics
from pigeon.common.outage import Outage
from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import KickedFrame, NoticeFrame, ReconnectFrame
from pigeon.common.protocol.session import Close, SessionLimits
from pigeon.common.settings import Settings
from pigeon.gateway.connection import Connection
from pigeon.gateway.hub import Hub

log = structlog.get_logger(__name__)

# Notices after a loss of pushes cover messages stored this long before trouble was seen.
RESYNC_SLACK_MS = 15_000


def public_url_for(settings: Settings) -> str:
    """Where clients reach this gateway's WebSocket (``gateway.public_url`` if set)."""
    if settings.gateway.public_url:
        return settings.gateway.public_url
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"ws://{host}:{settings.port}/ws"


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
        send_queue_bytes=g.send_queue_bytes,
        send_stall_timeout_s=g.send_stall_timeout_s,
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
        # Embedded, clients use the URL they reached the API with; in a cluster, this one.
        self.public_url = public_url_for(settings) if settings.clustered else ""
        self.public_url = settings.gateway.public_url or self.public_url
        self._all_closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._unregister_later: list[tuple[int, Location]] = []
        self._refresh_now = asyncio.Event()
        # Since when pushes may have been lost (None: no trouble); _trouble_again notes
        # trouble while a recovery round runs, so that another round follows.
        self._trouble_since: int | None = None
        self._trouble_again = False
        self._recover_now = asyncio.Event()
        self._redis = Outage("gateway_redis")
        # The last heartbeat the directory took: pushes queued since may be lost when
        # Redis forgets us (restarted, or we were stopped long enough to be swept).
        self._last_report_ms = now_ms()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(), name="gateway-consume"),
            asyncio.create_task(self._tick(), name="gateway-tick"),
            asyncio.create_task(self._refresh_registry(), name="gateway-registry"),
            asyncio.create_task(self._report(), name="gateway-report"),
            asyncio.create_task(self._recover(), name="gateway-recover"),
        ]
        log.info("gateway_started", gateway_id=self.gateway_id)

    def location(self, connection: Connection) -> Location:
        return Location(self.gateway_id, connection.device, connection.id, connection.kind)

    async def admit(self, connection: Connection) -> bool:
        """Record an authenticated socket in the registry, unless its user already holds
        ``gateway.max_connections_per_user`` sockets (counted over every gateway). A user
        may be connected from any number of devices and tabs below that cap; nothing that
        is connected is ever closed to make room."""
        cap = self.settings.gateway.max_connections_per_user
        try:
            admitted = await self.ctx.connections.register(
                connection.user_id, self.location(connection), cap
            )
            self._redis.succeeded()
        except Exception as exc:
            # The socket works locally; the next refresh registers it once Redis is back.
            self._redis.failed(exc, during="register")
            self.metrics.registry_errors.labels("register").inc()
            self._trouble(now_ms())
            admitted = True
        if not admitted:
            log.info("socket_over_cap", user=connection.user_id, cap=cap)
        return admitted

    async def adopt(self, connection: Connection) -> None:
        """An admitted socket that got its ``hello``: deliver to it from now on."""
        self.hub.attach(connection)
        self.metrics.connections.set(self.hub.count())
        if not await session_is_live(self.ctx, connection.auth_session_id):
            log.info("socket_session_revoked", user=connection.user_id, connection=connection.id)
            revoked = encode_server_frame(KickedFrame(reason="session_revoked"))
            connection.close(CloseCode.REVOKED, "session revoked", revoked)
            return
        self._spawn(presence.connection_opened(self.ctx, connection.user_id))
        log.info(
            "socket_authenticated",
            user=connection.user_id,
            device=connection.device,
            kind=connection.kind,
            connection=connection.id,
        )

    async def release(self, connection: Connection) -> None:
        """An admitted socket that closed before it was adopted: forget its entry."""
        await self._unregister(connection.user_id, self.location(connection))

    async def forget(self, connection: Connection) -> None:
        if self.hub.detach(connection):
            await self._unregister(connection.user_id, self.location(connection))
            self._note_active(connection.device)
        self.metrics.connections.set(self.hub.count())

    def _note_active(self, device_id: str) -> None:
        """A socket of the device closed: record when it was last active (while it is
        connected, the device list shows it online; a write per close, none per open)."""

        async def run() -> None:
            try:
                await note_device_active(self.ctx, device_id)
            except Exception as exc:
                log.warning("device_activity_not_recorded", device=device_id, error=str(exc))

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _unregister(self, user_id: int, location: Location) -> None:
        try:
            if await self.ctx.connections.unregister(user_id, location):
                await presence.connection_closed(self.ctx, user_id)
            self._redis.succeeded()
        except Exception as exc:
            self._redis.failed(exc, during="unregister")
            self.metrics.registry_errors.labels("unregister").inc()
            self._unregister_later.append((user_id, location))

    def _spawn(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await work
                self._redis.succeeded()
            except Exception as exc:
                self._redis.failed(exc, during="presence")

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _trouble(self, at_ms: int) -> None:
        """Pushes may be lost from ``at_ms`` on: recover (re-register, notices) soon."""
        self._trouble_again = True
        if self._trouble_since is None:
            self._trouble_since = at_ms
        self._recover_now.set()

    async def drain(self, grace_s: float = 5.0) -> None:
        """Stop taking sockets, ask clients to reconnect elsewhere, flush what is queued."""
        self.draining = True
        # First stop sending new clients here, then hand what is queued to the sockets.
        with contextlib.suppress(Exception):
            await self.ctx.directory.remove_gateway(self.gateway_id)
        await self._settle_queue()
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

    async def _settle_queue(self, limit_s: float = 2.0) -> None:
        """Give the consumer a moment to empty this gateway's queue."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                if await self.queue.length(self.gateway_id) == 0:
                    return
            except Exception:
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Anything still registered here is gone with this process.
        for connection in list(self.hub.connections()):
            self.hub.detach(connection)
            with contextlib.suppress(Exception):
                await self._unregister(connection.user_id, self.location(connection))
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2)
        if self.draining:
            with contextlib.suppress(Exception):
                await self.queue.discard(self.gateway_id)
        with contextlib.suppress(Exception):
            await self.ctx.directory.remove_gateway(self.gateway_id)
        with contextlib.suppress(Exception):
            await self.ctx.connections.drop_gateway(self.gateway_id)

    async def _consume(self) -> None:
        while True:
            try:
                async for delivery in self.queue.consume(self.gateway_id):
                    started = time.perf_counter()
                    self.hub.deliver(delivery)
                    self.metrics.deliver_seconds.observe(time.perf_counter() - started)
                    self.metrics.deliveries.inc()
                    if delivery.queued_at:
                        lag = max(0, now_ms() - delivery.queued_at) / 1000
                        self.metrics.queue_lag.observe(lag)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._redis.failed(exc, during="consume")
                self.metrics.registry_errors.labels("consume").inc()
                self._trouble(now_ms())
                await asyncio.sleep(1)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            now = time.monotonic()
            for connection in list(self.sockets):
                for action in connection.tick(now):
                    if isinstance(action, Close):
                        log.info("socket_timed_out", code=int(action.code), reason=action.reason)
                        connection.close(action.code, action.reason)

    async def _refresh_registry(self) -> None:
        interval = max(0.5, self.settings.redis.registry_ttl_s / 3)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_now.wait(), interval)
            self._refresh_now.clear()
            try:
                await self.refresh_registry()
                self._redis.succeeded()
            except Exception as exc:
                self._redis.failed(exc, during="refresh")
                self.metrics.registry_errors.labels("refresh").inc()
                self._trouble(now_ms())

    async def refresh_registry(self) -> None:
        """Keep this gateway's entries alive; re-create lost ones; retry failed removals."""
        retry, self._unregister_later = self._unregister_later, []
        for user_id, location in retry:
            await self._unregister(user_id, location)
        entries = [(c.user_id, self.location(c)) for c in self.hub.connections() if not c.closing]
        refreshed_at = now_ms()
        result = await self.ctx.connections.refresh(entries)
        if result.recreated:
            # Entries were gone (swept, or Redis lost them): pushes for those users were
            # skipped meanwhile, so tell the sockets what moved.
            log.info("registry_entries_recreated", count=len(result.recreated))
            self._trouble(min(self._last_report_ms, refreshed_at))
            await presence.settle_presence(self.ctx, sorted(set(result.recreated)))

    async def _report(self) -> None:
        """Heartbeat to the directory: liveness, URL and load, for discovery and sweeping.

        Nothing else runs here: a slow recovery must never let the heartbeat lapse, or a
        live gateway would be swept as dead."""
        interval = self.settings.redis.gateway_heartbeat_s
        first = True
        while True:
            info = GatewayInfo(self.gateway_id, self.public_url, self.hub.count())
            try:
                if not self.draining:
                    unknown = await asyncio.wait_for(
                        self.ctx.directory.report_gateway(info), interval * 2
                    )
                    if unknown and not first:
                        # Redis forgot us (flushed, restarted, or we were swept as dead):
                        # whatever was queued for us since the last heartbeat it took
                        # may be gone.
                        log.warning("registry_lost_this_gateway", gateway_id=self.gateway_id)
                        self.metrics.registry_resyncs.inc()
                        self._trouble(self._last_report_ms)
                    first = False
                    self._last_report_ms = now_ms()
                    length = await asyncio.wait_for(
                        self.queue.length(self.gateway_id), interval * 2
                    )
                    self.metrics.queue_length.set(length)
                self._redis.succeeded()
            except Exception as exc:
                self._redis.failed(exc, during="report")
                self.metrics.registry_errors.labels("report").inc()
                self._trouble(self._last_report_ms)
            await asyncio.sleep(interval)

    async def _recover(self) -> None:
        """After trouble: re-register every socket, then tell them what moved meanwhile.
        Rounds repeat while trouble was seen during one, keeping the earliest start."""
        while True:
            await self._recover_now.wait()
            self._recover_now.clear()
            if self._trouble_since is None:
                continue
            since, self._trouble_again = self._trouble_since, False
            try:
                await self.refresh_registry()
                await self._send_resync_notices(since - RESYNC_SLACK_MS)
                self._redis.succeeded()
            except Exception as exc:
                self._redis.failed(exc, during="recover")
                self._trouble_again = True
            if self._trouble_again:
                # Not yet through: try again shortly (the next trouble also wakes us).
                await asyncio.sleep(self.settings.redis.gateway_heartbeat_s)
                self._recover_now.set()
            else:
                self._trouble_since = None

    async def _send_resync_notices(self, since_ms: int) -> None:
        """Pushes may have been lost: tell local sockets which conversations moved on."""
        by_user: dict[int, list[Connection]] = {}
        for connection in self.hub.connections():
            by_user.setdefault(connection.user_id, []).append(connection)
        if not by_user:
            return
        activity = await missed_activity(self.ctx, sorted(by_user), since_ms)
        sent = 0
        for user_id, conversations in activity.items():
            for conversation_id, last_seq in conversations:
                frame = encode_server_frame(
                    NoticeFrame(conversation_id=conversation_id, last_seq=last_seq)
                )
                for connection in by_user.get(user_id, []):
                    sent += connection.send(frame)
        log.info("resync_notices_sent", gateway_id=self.gateway_id, notices=sent)
