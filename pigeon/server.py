"""Running an app under uvicorn, with a gateway drain before uvicorn closes sockets."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from pigeon.gateway.endpoint import socket_route
from pigeon.gateway.wsprotocol import LightWebSocketProtocol
from pigeon.platform.connections import ConnectionGuard, guarded_protocol
from pigeon.runtime import Runtime


class _DrainingServer(uvicorn.Server):
    """On SIGTERM/SIGINT: tell clients to reconnect elsewhere first, then shut down."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.runtime.drain()
        await super().shutdown(sockets)


async def run_app(app: FastAPI, runtime: Runtime) -> None:
    settings = runtime.settings
    asgi: ASGIApp = app
    if runtime.gateway is not None:
        asgi = socket_route(app, runtime.gateway, settings.http.metrics_port or 0)
    config = uvicorn.Config(
        asgi,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # Connection cap and request deadlines (slow-loris), see pigeon.platform.connections.
        http=guarded_protocol(ConnectionGuard(settings.http)),
        # uvicorn's websockets-sansio, lighter per idle socket (pigeon.gateway.wsprotocol).
        ws=LightWebSocketProtocol,
        ws_max_size=settings.gateway.max_frame_bytes * 4,
        ws_per_message_deflate=settings.gateway.per_message_deflate,
        ws_ping_interval=None,
        timeout_graceful_shutdown=10,
        lifespan="on",
        server_header=False,
        # Forwarded headers are believed only from http.trusted_proxies, by Pigeon itself
        # (pigeon.platform.proxies); uvicorn must not rewrite the peer address.
        proxy_headers=False,
    )
    server = _DrainingServer(config, runtime)
    if not settings.http.metrics_port:
        await server.serve()
        return
    # /metrics on a listener of its own (the app answers it only there).
    metrics_config = uvicorn.Config(
        asgi, host=settings.http.metrics_host, port=settings.http.metrics_port
    )
    await server.serve(sockets=[config.bind_socket(), metrics_config.bind_socket()])
