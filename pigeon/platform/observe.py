"""Request counts and latencies for /metrics, as a plain ASGI middleware."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pigeon.common.metrics import Metrics


class RequestMetrics:
    """Counts HTTP responses by status and times them (WebSocket scopes pass through)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            self.metrics.http_requests.labels(str(status)).inc()
            self.metrics.http_seconds.observe(time.perf_counter() - started)


class MetricsListener:
    """With ``http.metrics_port`` set, that listener serves only the operations endpoints
    (``/metrics``, ``/healthz``, ``/readyz``): the API never answers there."""

    ALLOWED = frozenset({"/metrics", "/healthz", "/readyz"})

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        on_metrics_port = server is not None and server[1] == self.port
        if on_metrics_port and scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if on_metrics_port and scope["type"] == "http" and scope["path"] not in self.ALLOWED:
            body = b'{"error":{"code":"not_found","message":"only /metrics here"}}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
