"""The bare WebSocket relay: the ceiling for Python on this machine.

No auth, no storage, no routing beyond a dict lookup. A client's first frame is
``{"type": "auth", "id": N}``; the relay answers ``{"type": "hello"}`` and from then on
forwards every frame that names ``"to": <peer id>`` to that peer's socket unchanged,
then acknowledges it to the sender with ``{"type": "ack", "ref": ..., "client_msg_id": ...}``.
One frame in, two frames out: the same work a chat server does per message, minus
everything that makes it a chat server.

Two servers implement it, so that the faster can be the baseline:

* ``websockets``: the ``websockets`` library's asyncio server on uvloop;
* ``starlette``: a Starlette ``WebSocketRoute`` served by uvicorn (uvloop, httptools).

Run one with ``python -m bench.relay --impl websockets --port 9001``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any, Protocol

import msgspec

IMPLEMENTATIONS = ("websockets", "starlette")
HELLO = b'{"type":"hello"}'

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class _Sink(Protocol):
    async def send_text(self, data: str) -> None: ...


class RelayCore:
    """Peer table and per-frame logic shared by both servers (no I/O of its own)."""

    def __init__(self) -> None:
        self.peers: dict[int, _Sink] = {}

    @staticmethod
    def peer_id(first_frame: str) -> int:
        frame = _decoder.decode(first_frame)
        if not isinstance(frame, dict) or not isinstance(frame.get("id"), int):
            raise ValueError("first frame must be {'type': 'auth', 'id': <int>}")
        peer: int = frame["id"]
        return peer

    async def handle(self, raw: str, sender: _Sink) -> None:
        frame: Any = _decoder.decode(raw)
        if not isinstance(frame, dict):
            return
        target = self.peers.get(frame.get("to", -1))
        if target is not None:
            await target.send_text(raw)
        ack = {"type": "ack", "ref": frame.get("ref"), "client_msg_id": frame.get("client_msg_id")}
        await sender.send_text(_encoder.encode(ack).decode())


# --- websockets library ---------------------------------------------------------------


class _WebsocketsSink:
    __slots__ = ("ws",)

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send_text(self, data: str) -> None:
        await self.ws.send(data)


async def serve_websockets(host: str, port: int, stop: asyncio.Event) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    core = RelayCore()

    async def handler(ws: ServerConnection) -> None:
        try:
            peer = core.peer_id(str(await ws.recv()))
        except (ValueError, msgspec.DecodeError):
            await ws.close(4001, "bad auth frame")
            return
        except ConnectionClosed:
            return
        sink = _WebsocketsSink(ws)
        core.peers[peer] = sink
        try:
            await ws.send(HELLO.decode())
            async for raw in ws:
                await core.handle(str(raw), sink)
        except ConnectionClosed:
            pass
        finally:
            if core.peers.get(peer) is sink:
                del core.peers[peer]

    async with serve(
        handler, host, port, compression=None, ping_interval=None, max_size=65536, backlog=4096
    ):
        await stop.wait()


# --- Starlette on uvicorn -------------------------------------------------------------


async def serve_starlette(host: str, port: int, stop: asyncio.Event) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    core = RelayCore()

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        try:
            peer = core.peer_id(await ws.receive_text())
        except (ValueError, msgspec.DecodeError):
            await ws.close(4001)
            return
        except WebSocketDisconnect:
            return
        core.peers[peer] = ws
        try:
            await ws.send_text(HELLO.decode())
            while True:
                await core.handle(await ws.receive_text(), ws)
        except WebSocketDisconnect:
            pass
        finally:
            if core.peers.get(peer) is ws:
                del core.peers[peer]

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="none",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        ws_max_size=65536,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )
    server = uvicorn.Server(config)
    server_task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await server_task


async def serve_relay(impl: str, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if impl == "websockets":
        await serve_websockets(host, port, stop)
    elif impl == "starlette":
        await serve_starlette(host, port, stop)
    else:
        raise ValueError(f"unknown relay implementation {impl!r}, expected {IMPLEMENTATIONS}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, default="websockets")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args(argv)
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve_relay(args.impl, args.host, args.port))


if __name__ == "__main__":
    main()
