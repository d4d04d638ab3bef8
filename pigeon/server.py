"""Running an app under uvicorn, with a gateway drain before uvicorn closes sockets."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

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
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        ws_max_size=settings.gateway.max_frame_bytes * 4,
        ws_ping_interval=None,
        timeout_graceful_shutdown=10,
        lifespan="on",
        server_header=False,
    )
    await _DrainingServer(config, runtime).serve()
