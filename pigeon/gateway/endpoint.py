"""The socket loop: frames in, session actions out. No protocol decisions live here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pigeon.actions.accounts import authenticate
from pigeon.common.clock import now_ms
from pigeon.common.errors import PigeonError, TooManyConnections
from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import AckFrame, HelloFrame, SyncFrame
from pigeon.common.protocol.session import (
    Action,
    Authenticate,
    Close,
    Dispatch,
    Reply,
    Session,
)
from pigeon.gateway.connection import CloseRequest, Connection
from pigeon.gateway.handlers import handle_request

if TYPE_CHECKING:
    from pigeon.gateway.service import Gateway

log = structlog.get_logger(__name__)

MAX_CONCURRENT_SYNCS = 2


async def serve_socket(gateway: Gateway, websocket: WebSocket) -> None:
    """Run one client socket from accept to close."""
    if gateway.draining:
        await websocket.close(code=CloseCode.SERVICE_RESTART)
        return
    await websocket.accept()
    session = Session(gateway.limits, opened_at=time.monotonic())
    connection = Connection(session=session)
    runner = _SocketRunner(gateway, websocket, connection)
    await runner.run()


class _SocketRunner:
    """Runs one socket inside the ASGI task: that task reads, and the writer and the
    request worker are tasks only while they have work (an idle socket has none)."""

    __slots__ = (
        "_cancelled_for_close",
        "_reading",
        "_syncs",
        "_tasks",
        "_worker",
        "_writer",
        "connection",
        "gateway",
        "requests",
        "websocket",
    )

    def __init__(self, gateway: Gateway, websocket: WebSocket, connection: Connection) -> None:
        self.gateway = gateway
        self.websocket = websocket
        self.connection = connection
        self.requests: deque[Dispatch] | None = None  # made on the first request
        self._syncs: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._reading: asyncio.Task[Any] | None = None
        self._cancelled_for_close = False
        connection.on_output = self._start_writer
        connection.on_close = self._interrupt_read

    async def run(self) -> None:
        gateway, connection = self.gateway, self.connection
        gateway.sockets.add(connection)
        try:
            await self._read()
        except asyncio.CancelledError:
            # A close decided elsewhere (a timer, a kick) must not wait for the client's
            # next frame: it may never send one. Any other cancellation goes on up.
            current = asyncio.current_task()
            if not self._cancelled_for_close or current is None or current.uncancel():
                raise
        except Exception as exc:
            self._failed(exc)
        finally:
            gateway.socket_closed(connection)
            self._reading = None
            for task in (self._worker, *(self._tasks or ())):
                if task is not None:
                    task.cancel()
            connection.close(CloseCode.NORMAL, "bye")
            writer = self._writer
            if writer is not None:
                # A client that does not read gets a moment for the close frame, no more.
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(writer), timeout=2)
                writer.cancel()
            if connection.user_id:
                await gateway.forget(connection)

    def _interrupt_read(self) -> None:
        """The close is queued: stop waiting for the client's next frame."""
        if self._reading is not None and self._reading is not asyncio.current_task():
            self._cancelled_for_close = True
            self._reading.cancel()
            self._reading = None

    def _failed(self, exc: BaseException | None) -> None:
        """A fault of ours while handling the socket: log it, close with 1011."""
        log.error("socket_failed", user=self.connection.user_id, exc_info=exc)
        self.connection.close(CloseCode.INTERNAL_ERROR, "internal error")

    async def _read(self) -> None:
        connection = self.connection
        self._reading = asyncio.current_task()
        while True:
            # Backpressure: no new requests while the answers to earlier ones are unread.
            await connection.wait_for_room()
            if connection.closing or connection.closed:
                return
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            actions = connection.session.receive(data, time.monotonic())
            self.gateway.metrics.frames_in.inc()
            # Carrying out a close must not cancel this very task mid-action.
            self._reading = None
            await self._carry_out(actions)
            if connection.closed:
                return
            self._reading = asyncio.current_task()

    async def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Reply):
                self.connection.send(encode_server_frame(action.frame))
            elif isinstance(action, Close):
                log.info(
                    "socket_closed_by_server",
                    code=int(action.code),
                    reason=action.reason,
                    user=self.connection.user_id,
                )
                self.connection.carry_out([action])
            elif isinstance(action, Authenticate):
                await self._authenticate(action)
            elif isinstance(action, Dispatch):
                if isinstance(action.frame, SyncFrame):
                    self._spawn_sync(action)
                else:
                    if self.requests is None:
                        self.requests = deque()
                    self.requests.append(action)
                    if self._worker is None or self._worker.done():
                        self._worker = asyncio.create_task(self._process_requests())

    async def _authenticate(self, action: Authenticate) -> None:
        connection, gateway = self.connection, self.gateway
        try:
            claims, user = await authenticate(gateway.ctx, action.token)
        except PigeonError as exc:
            log.info("socket_auth_failed", reason=exc.message)
            await self._carry_out(connection.session.reject(exc.message))
            return
        connection.user_id = user.id
        # The device is the login session: HTTP requests and every tab with the same
        # tokens name the same device (hot-group read stubs are kept per device). Its kind
        # is the one the session was opened for.
        connection.device = claims.session_id
        connection.kind = claims.device
        connection.auth_session_id = claims.session_id
        if not await gateway.admit(connection):
            refused = TooManyConnections(
                f"this account already has {gateway.settings.gateway.max_connections_per_user}"
                " connections open: close a tab, or log out a device you do not use"
            )
            await self._carry_out(
                connection.session.reject(
                    refused.message, refused.code, CloseCode.TOO_MANY_CONNECTIONS
                )
            )
            return
        limits = gateway.limits
        hello = HelloFrame(
            user=user,
            session_id=connection.id,
            device=claims.device,
            device_id=claims.session_id,
            heartbeat_interval=int(limits.heartbeat_interval_s * 1000),
            heartbeat_timeout=int(limits.heartbeat_timeout_s * 1000),
            server_time=now_ms(),
            rate_limit_per_s=limits.rate_per_s,
            rate_limit_burst=limits.rate_burst,
        )
        await self._carry_out(connection.session.accept(hello))
        if connection.closing:  # closed while the token was checked
            await gateway.release(connection)
        else:
            await gateway.adopt(connection)

    async def _process_requests(self) -> None:
        """Writes (send, read, recall, typing) run one at a time, in the order sent; the
        worker ends when none are left."""
        requests = self.requests
        while requests:
            action = requests.popleft()
            started = time.perf_counter()
            reply = await handle_request(self.gateway.ctx, self.connection, action.frame)
            metrics = self.gateway.metrics
            metrics.ws_request_seconds.labels(action.frame.type).observe(
                time.perf_counter() - started
            )
            if isinstance(reply, AckFrame):
                metrics.messages_sent.inc()
            if reply is not None:
                self.connection.send(encode_server_frame(reply))

    def _spawn_sync(self, action: Dispatch) -> None:
        """Pulls run beside the writes and the heartbeat, never in front of them."""

        if self._syncs is None:
            self._syncs = asyncio.Semaphore(MAX_CONCURRENT_SYNCS)
            self._tasks = set()
        syncs, tasks = self._syncs, self._tasks
        assert tasks is not None

        async def pull() -> None:
            async with syncs:
                # Fetch only once earlier answers are out: a client that asks for pages
                # and reads none of them must not have them piled up in memory.
                await self.connection.wait_for_room()
                if self.connection.closing:
                    return
                reply = await handle_request(self.gateway.ctx, self.connection, action.frame)
            if reply is not None:
                self.connection.send(encode_server_frame(reply))

        task = asyncio.create_task(pull())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _start_writer(self) -> None:
        """Frames are queued: write them unless a writer is already at it."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        """Write what is queued, then end (the next frame queued starts a new writer)."""
        websocket, connection = self.websocket, self.connection
        outbound = connection.outbound
        try:
            while outbound:
                item = outbound.popleft()
                if isinstance(item, CloseRequest):
                    if websocket.application_state is WebSocketState.CONNECTED:
                        await websocket.close(code=item.code, reason=item.reason[:120])
                    return
                await websocket.send_text(item)
                connection.written(item)
                self.gateway.metrics.frames_out.inc()
        except (WebSocketDisconnect, RuntimeError, OSError):
            connection.close(CloseCode.GOING_AWAY, "connection lost")


def socket_route(app: ASGIApp, gateway: Gateway, metrics_port: int = 0) -> ASGIApp:
    """``app``, with WebSockets to ``/ws`` served straight by the gateway.

    Through the framework, an idle socket keeps a dozen middleware and routing frames
    suspended for its whole life, and their exit stacks; none of them acts on a WebSocket
    (the metrics listener refuses them, as here). The ``/ws`` route of ``app`` stays for
    in-process clients."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != "/ws":
            await app(scope, receive, send)
            return
        server = scope.get("server")
        if metrics_port and server is not None and server[1] == metrics_port:
            await send({"type": "websocket.close", "code": 1008})
            return
        await serve_socket(gateway, WebSocket(scope, receive, send))

    return asgi
