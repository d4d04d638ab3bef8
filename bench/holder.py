"""One socket-holding worker process of ``python -m bench sockets``.

It opens its share of sockets (auth frame, then the server's first frame), keeps each one
alive with an application ping at the announced heartbeat interval (the first at a random
offset, so the pings of thousands of sockets are spread out), and on the parent's word
reports which sockets dropped and which missed a pong. The parent reads the shared
counters (``SLOTS`` floats per worker: opened, failed, pings, pongs, dropped, done).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from bench.loadgen import raise_nofile_limit

SLOTS = 6
OPENED, FAILED, PINGS, PONGS, DROPPED, DONE = range(SLOTS)
PING = '{"type":"ping"}'
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True)
class HolderConfig:
    index: int
    url: str
    auths: list[str]  # one first frame per socket ("" sends none)
    local_addr: str | None
    interval_s: float  # used when the first frame does not announce one
    deflate: bool  # offer permessage-deflate, as browsers do
    # Pigeon checks each auth frame against the database: too many at once on a busy
    # machine and the last ones miss the 5 s auth deadline.
    connect_concurrency: int = 16


@dataclass
class HolderResult:
    index: int
    error: str | None = None
    opened: int = 0
    failed: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # close code -> sockets
    pings: int = 0
    pongs: int = 0
    without_pong: int = 0  # open sockets whose pings all went unanswered
    late: int = 0  # pongs that took longer than the interval
    interval_s: float = 0.0


class _Socket:
    __slots__ = ("pings", "pongs", "ws")

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pings = 0
        self.pongs = 0


class Holder:
    def __init__(self, cfg: HolderConfig, counters: Any, stop: Any) -> None:
        self.cfg = cfg
        self.counters = counters
        self.stop = stop
        self.base = cfg.index * SLOTS
        self.result = HolderResult(index=cfg.index, interval_s=cfg.interval_s)
        self.sockets: list[_Socket] = []
        self.tasks: list[asyncio.Task[None]] = []

    def bump(self, slot: int, by: float = 1.0) -> None:
        self.counters[self.base + slot] += by

    async def open(self, auth: str) -> _Socket:
        kwargs: dict[str, Any] = {}
        if self.cfg.local_addr:
            kwargs["local_addr"] = (self.cfg.local_addr, 0)
        ws = await connect(
            self.cfg.url,
            compression="deflate" if self.cfg.deflate else None,
            proxy=None,
            open_timeout=60,
            ping_interval=None,
            close_timeout=2,
            max_size=2**20,
            **kwargs,
        )
        if auth:
            await ws.send(auth)
            first = await asyncio.wait_for(ws.recv(), 30)
            frame = _decoder.decode(first)
            if not isinstance(frame, dict) or frame.get("type") != "hello":
                await ws.close()
                raise RuntimeError(f"expected hello after auth, got {str(first)[:200]}")
            announced = frame.get("heartbeat_interval")
            if isinstance(announced, int) and announced > 0:
                self.result.interval_s = announced / 1000
        return _Socket(ws)

    async def open_all(self) -> None:
        gate = asyncio.Semaphore(self.cfg.connect_concurrency)

        async def one(auth: str) -> None:
            async with gate:
                try:
                    sock = await self.open(auth)
                except Exception as exc:
                    self.result.failed.append(f"{type(exc).__name__}: {exc}"[:300])
                    self.bump(FAILED)
                    return
            self.sockets.append(sock)
            # Its heartbeat starts now: the last sockets may open minutes after the first.
            self.tasks.append(asyncio.create_task(self.keep_alive(sock)))
            self.bump(OPENED)

        await asyncio.gather(*(one(a) for a in self.cfg.auths))
        self.result.opened = len(self.sockets)

    async def keep_alive(self, sock: _Socket) -> None:
        """Ping at the interval; any answer counts as the pong (the relay acks, the bare
        server echoes, Pigeon sends ``pong``)."""
        interval = self.result.interval_s
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            sent = time.monotonic()
            await sock.ws.send(PING)
            sock.pings += 1
            self.bump(PINGS)
            await sock.ws.recv()
            took = time.monotonic() - sent
            sock.pongs += 1
            self.bump(PONGS)
            if took > interval:
                self.result.late += 1
            await asyncio.sleep(max(0.0, interval - took))

    async def run(self) -> None:
        await self.open_all()
        tasks = self.tasks
        while not self.stop.value:  # noqa: ASYNC110 - a flag shared with the parent process
            await asyncio.sleep(0.2)
        r = self.result
        for sock, task in zip(self.sockets, tasks, strict=True):
            if task.done() and not task.cancelled():
                exc = task.exception()
                if isinstance(exc, ConnectionClosed):
                    code = str(exc.rcvd.code) if exc.rcvd else "no close frame"
                else:
                    code = f"{type(exc).__name__}: {exc}"[:120]
                r.dropped[code] = r.dropped.get(code, 0) + 1
                self.bump(DROPPED)
            elif sock.ws.state is not State.OPEN:
                code = str(sock.ws.close_code)
                r.dropped[code] = r.dropped.get(code, 0) + 1
                self.bump(DROPPED)
            else:
                task.cancel()
                if sock.pongs == 0:
                    r.without_pong += 1
            r.pings += sock.pings
            r.pongs += sock.pongs
        await asyncio.gather(*tasks, return_exceptions=True)
        gate = asyncio.Semaphore(256)

        async def close(sock: _Socket) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sock.ws.close(), 5)

        await asyncio.gather(*(close(s) for s in self.sockets))


def holder_main(cfg: HolderConfig, counters: Any, stop: Any, results: Any) -> None:
    """Process entry point (spawned by :mod:`bench.sockets`)."""
    raise_nofile_limit()
    holder = Holder(cfg, counters, stop)
    try:
        import uvloop

        uvloop.run(holder.run())
    except BaseException:
        holder.result.error = traceback.format_exc()
    finally:
        counters[cfg.index * SLOTS + DONE] = 1.0
        results.put(holder.result)
