"""Connection-level defences under uvicorn: request deadlines and a per-address cap.

A slow client (slow-loris) holds a connection by sending its request line, headers or body
a few bytes at a time. Every request's headers must be complete within
``http.header_timeout_s`` of its first byte (or of the connection opening), and its body
within ``http.body_timeout_s`` after the headers (``http.upload_timeout_s`` for uploads);
otherwise the client gets 408 ``request_timeout`` and the connection is closed. One client
address may hold at most ``http.max_connections_per_client`` open connections, WebSockets
included; more are answered 429 ``too_many_connections`` and closed. Trusted proxies are
exempt from the cap (they carry many clients).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pigeon.common.settings import HttpSettings
from pigeon.platform.proxies import TrustedProxies

log = structlog.get_logger(__name__)

UPLOAD_PATH = "/api/v1/uploads"


class ConnectionGuard:
    """Open transports per client address, shared by every connection of one server."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self._open: dict[str, weakref.WeakSet[asyncio.BaseTransport]] = {}

    def admit(self, address: str, transport: asyncio.BaseTransport) -> bool:
        """Count ``transport`` for ``address``; False if the address is at its cap."""
        if not address or self.proxies.trusts(address):
            return True
        held = self._open.setdefault(address, weakref.WeakSet())
        for other in list(held):
            if other.is_closing():
                held.discard(other)
        if len(held) >= self.settings.max_connections_per_client:
            return False
        held.add(transport)
        return True

    def release(self, address: str, transport: asyncio.BaseTransport) -> None:
        held = self._open.get(address)
        if held is None:
            return
        held.discard(transport)
        if not held:
            del self._open[address]

    def count(self, address: str) -> int:
        held = self._open.get(address)
        return 0 if held is None else sum(1 for t in held if not t.is_closing())


def guarded_protocol(guard: ConnectionGuard) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the guard's cap and deadlines."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _address = ""
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._address = self.client[0] if self.client else ""
            if not guard.admit(self._address, transport):
                self._refused = True
                log.info("connection_refused", client=self._address, reason="too_many_connections")
                self._refuse(
                    429,
                    "too_many_connections",
                    f"at most {guard.settings.max_connections_per_client} open connections "
                    "per client address",
                )
                return
            self._arm(guard.settings.header_timeout_s, "headers")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if not self._refused:
                guard.release(self._address, self.transport)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:
                self._arm(guard.settings.header_timeout_s, "headers")

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()
            if self.parser.should_upgrade():
                return  # a WebSocket: the gateway's own timeouts apply
            path = self.scope.get("path", "")
            timeout = (
                guard.settings.upload_timeout_s
                if path == UPLOAD_PATH
                else guard.settings.body_timeout_s
            )
            self._arm(timeout, "body")

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def _arm(self, seconds: float, stage: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired, stage)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self, stage: str) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            log.info("request_timeout", client=self._address, stage=stage)
            cycle: Any = self.cycle
            if cycle is not None and not cycle.response_complete and cycle.response_started:
                self.transport.close()
                return
            self._refuse(408, "request_timeout", f"the request {stage} took too long to arrive")

        def _refuse(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            reason = {408: b"Request Timeout", 429: b"Too Many Requests"}.get(status, b"Error")
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status, reason, len(body), body)
            )
            self.transport.close()

    return GuardedHttpProtocol
