"""One load-generator worker process: its share of pairs, their sockets, their checks.

The parent (:mod:`bench.runner`) starts several of these. Each worker connects the sender
and the receiver socket of each of its pairs, says it is ready through the shared counter
array, waits for the common start time, runs warm-up + measurement, stops sending, drains
(waits for outstanding acks and deliveries, bounded), verifies every pair and puts one
:class:`WorkerResult` on the result queue.

Shared counter slots per worker (``SLOTS`` floats): ready, sent, acked, delivered, errors,
done. The parent reads them for the progress bar; only this worker writes its slots.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import resource
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import frames
from bench.checks import PairCheck, verify_pair

SLOTS = 6
READY, SENT, ACKED, DELIVERED, ERRORS, DONE = range(SLOTS)
NOFILE_LIMIT = 20_000
MAX_DRAIN_S = 120.0


@dataclass(frozen=True)
class ConnSpec:
    url: str
    auth: str
    local_addr: str | None = None


@dataclass(frozen=True)
class PairSpec:
    pair: int
    to: int  # the receiver's id, as the sender addresses it
    receiver_id: int
    sender_id: int
    sender: ConnSpec
    receiver: ConnSpec


@dataclass(frozen=True)
class WorkerConfig:
    index: int
    run_id: int
    dialect: frames.Dialect
    pairs: list[PairSpec]
    window: int
    rate_per_sender: float | None  # open loop when set
    warmup: float
    duration: float
    drain_timeout: float
    text_size: int
    max_inflight: int
    connect_concurrency: int = 32
    start_timeout: float = 300.0


@dataclass
class WorkerResult:
    index: int
    error: str | None = None
    sent: int = 0  # sends in the measurement window
    acked: int = 0  # acks received in the measurement window
    delivered: int = 0  # deliveries received in the measurement window
    latencies_us: bytes = b""  # end-to-end, messages sent in the window (array 'q')
    ack_latencies_us: bytes = b""  # send -> ack, messages sent in the window
    skipped: int = 0  # open loop: sends skipped because max_inflight was reached
    error_codes: dict[str, int] = field(default_factory=dict)
    other_frames: dict[str, int] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    check: PairCheck = field(default_factory=PairCheck)


class Pair:
    """Runtime state of one pair inside the worker."""

    def __init__(self, spec: PairSpec, window: int) -> None:
        self.spec = spec
        self.next_n = 0
        self.pending: dict[int, int] = {}  # n -> sent_ns
        self.acked: dict[int, int | None] = {}
        self.received: list[tuple[int, int]] = []
        self.errors = 0
        self.slots = asyncio.Semaphore(window)
        self.sender: ClientConnection | None = None
        self.receiver: ClientConnection | None = None
        self.broken = False


class Worker:
    def __init__(self, cfg: WorkerConfig, counters: Any, start_at: Any) -> None:
        self.cfg = cfg
        self.counters = counters
        self.start_at = start_at
        self.base = cfg.index * SLOTS
        self.pairs = [Pair(p, cfg.window) for p in cfg.pairs]
        self.result = WorkerResult(index=cfg.index)
        self.lat = array.array("q")
        self.ack_lat = array.array("q")
        self.sent_total = 0
        self.acked_total = 0
        self.delivered_total = 0
        self.errors_total = 0
        self.window_start_ns = 0
        self.window_end_ns = 0
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []

    # --- setup ------------------------------------------------------------------------

    async def open(self, spec: ConnSpec) -> tuple[ClientConnection, Any]:
        kwargs: dict[str, Any] = {}
        if spec.local_addr:
            kwargs["local_addr"] = (spec.local_addr, 0)
        ws = await connect(
            spec.url,
            compression=None,
            proxy=None,
            open_timeout=30,
            ping_interval=None,
            close_timeout=2,
            max_size=2**20,
            max_queue=None,
            **kwargs,
        )
        await ws.send(spec.auth)
        raw = await asyncio.wait_for(ws.recv(), timeout=15)
        hello = frames.decode(raw)
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            await ws.close()
            raise RuntimeError(f"expected a hello frame after auth on {spec.url}, got {raw!r}")
        return ws, hello

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(self.cfg.connect_concurrency)

        async def one(pair: Pair) -> None:
            async with gate:
                pair.receiver, hello = await self.open(pair.spec.receiver)
                pair.sender, _ = await self.open(pair.spec.sender)
            interval = hello.get("heartbeat_interval")
            for ws in (pair.receiver, pair.sender):
                if self.cfg.dialect == "pigeon" and isinstance(interval, int) and interval > 0:
                    self.tasks.append(asyncio.create_task(self.heartbeat(ws, interval / 1000)))
            self.tasks.append(asyncio.create_task(self.read_receiver(pair)))
            self.tasks.append(asyncio.create_task(self.read_sender(pair)))

        await asyncio.gather(*(one(p) for p in self.pairs))

    # --- readers ----------------------------------------------------------------------

    def in_window(self, t_ns: int) -> bool:
        return self.window_start_ns <= t_ns < self.window_end_ns

    async def read_sender(self, pair: Pair) -> None:
        ws = pair.sender
        assert ws is not None
        dialect = self.cfg.dialect
        try:
            async for raw in ws:
                event = frames.classify(dialect, raw)
                if isinstance(event, frames.Ack):
                    sent_ns = pair.pending.pop(event.n, None)
                    if sent_ns is None:
                        self.count_other("ack_for_unknown_ref")
                        continue
                    now = time.time_ns()
                    pair.acked[event.n] = event.seq
                    self.acked_total += 1
                    if self.in_window(now):
                        self.result.acked += 1
                    if self.in_window(sent_ns):
                        self.ack_lat.append((now - sent_ns) // 1000)
                    pair.slots.release()
                elif isinstance(event, frames.ErrorFrame):
                    self.on_error(pair, event)
                elif isinstance(event, frames.Delivery):
                    self.count_other("echo_to_sending_device")
                elif isinstance(event, frames.Other) and event.type != "pong":
                    self.count_other(event.type)
        except ConnectionClosed as exc:
            self.on_closed(pair, "sender", exc)

    async def read_receiver(self, pair: Pair) -> None:
        ws = pair.receiver
        assert ws is not None
        dialect = self.cfg.dialect
        received = pair.received
        try:
            async for raw in ws:
                event = frames.classify(dialect, raw)
                if isinstance(event, frames.Delivery):
                    now = time.time_ns()
                    received.append((event.n, event.seq))
                    self.delivered_total += 1
                    if self.in_window(now):
                        self.result.delivered += 1
                    if self.in_window(event.sent_ns):
                        self.lat.append((now - event.sent_ns) // 1000)
                elif isinstance(event, frames.ErrorFrame):
                    self.on_error(pair, event)
                elif isinstance(event, frames.Other):
                    if event.type != "pong":
                        self.count_other(event.type)
                else:
                    self.count_other("ack_on_receiving_socket")
        except ConnectionClosed as exc:
            self.on_closed(pair, "receiver", exc)

    def on_error(self, pair: Pair, event: frames.ErrorFrame) -> None:
        self.errors_total += 1
        codes = self.result.error_codes
        codes[event.code] = codes.get(event.code, 0) + 1
        if event.n is not None and pair.pending.pop(event.n, None) is not None:
            pair.errors += 1
            pair.slots.release()

    def on_closed(self, pair: Pair, role: str, exc: ConnectionClosed) -> None:
        if self.stopping:
            return
        pair.broken = True
        self.errors_total += 1
        rcvd = exc.rcvd
        why = f"code {rcvd.code} {rcvd.reason!r}" if rcvd else "no close frame"
        self.result.closed.append(f"pair {pair.spec.pair} {role} socket closed: {why}")
        for _ in range(self.cfg.window):
            pair.slots.release()

    def count_other(self, kind: str) -> None:
        self.result.other_frames[kind] = self.result.other_frames.get(kind, 0) + 1

    async def heartbeat(self, ws: ClientConnection, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while not self.stopping:
                await asyncio.sleep(interval * 0.8)
                await ws.send(frames.PING)

    # --- senders ----------------------------------------------------------------------

    async def send_one(self, pair: Pair, sent_ns: int) -> None:
        ws = pair.sender
        assert ws is not None
        n = pair.next_n
        pair.next_n += 1
        cid = frames.client_msg_id(self.cfg.run_id, pair.spec.pair, n)
        raw = frames.send_frame(
            self.cfg.dialect,
            to=pair.spec.to,
            n=n,
            cid=cid,
            sent_ns=sent_ns,
            size=self.cfg.text_size,
        )
        pair.pending[n] = sent_ns
        try:
            await ws.send(raw)
        except ConnectionClosed as exc:
            pair.pending.pop(n, None)
            self.on_closed(pair, "sender", exc)
            return
        self.sent_total += 1
        if self.in_window(sent_ns):
            self.result.sent += 1

    async def closed_loop(self, pair: Pair, end_ns: int) -> None:
        while not self.stopping and not pair.broken:
            await pair.slots.acquire()
            now = time.time_ns()
            if self.stopping or pair.broken or now >= end_ns:
                return
            await self.send_one(pair, now)

    async def open_loop(self, pair: Pair, start_ns: int, end_ns: int, offset: float) -> None:
        rate = self.cfg.rate_per_sender
        assert rate is not None
        interval_ns = int(1e9 / rate)
        due = start_ns + int(offset * interval_ns)
        while not self.stopping and not pair.broken and due < end_ns:
            delay = (due - time.time_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            if len(pair.pending) >= self.cfg.max_inflight:
                self.result.skipped += 1
            else:
                await self.send_one(pair, due)  # the intended time: no coordinated omission
            due += interval_ns

    # --- phases -----------------------------------------------------------------------

    async def report(self) -> None:
        c, b = self.counters, self.base
        while True:
            c[b + SENT] = self.sent_total
            c[b + ACKED] = self.acked_total
            c[b + DELIVERED] = self.delivered_total
            c[b + ERRORS] = self.errors_total
            await asyncio.sleep(0.2)

    def settled(self) -> bool:
        return all(
            p.broken or (not p.pending and len(p.received) >= len(p.acked)) for p in self.pairs
        )

    async def drain(self) -> None:
        """Wait for outstanding acks and deliveries: until all are in, or nothing has come
        for ``drain_timeout`` seconds, or ``MAX_DRAIN_S`` have passed."""
        started = last_change = time.monotonic()
        seen = -1
        while not self.settled():
            now = time.monotonic()
            progress = self.acked_total + self.delivered_total + self.errors_total
            if progress != seen:
                seen, last_change = progress, now
            if now - last_change > self.cfg.drain_timeout or now - started > MAX_DRAIN_S:
                return
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        cfg = self.cfg
        await self.connect_all()
        reporter = asyncio.create_task(self.report())
        self.counters[self.base + READY] = 1.0
        deadline = time.monotonic() + cfg.start_timeout
        while self.start_at.value == 0.0:
            if time.monotonic() > deadline:
                raise TimeoutError("the runner never gave the start signal")
            await asyncio.sleep(0.01)
        if self.start_at.value < 0:
            raise RuntimeError("the runner aborted the run")
        start_ns = int(self.start_at.value * 1e9)
        self.window_start_ns = start_ns + int(cfg.warmup * 1e9)
        self.window_end_ns = self.window_start_ns + int(cfg.duration * 1e9)
        await asyncio.sleep(max(0.0, (start_ns - time.time_ns()) / 1e9))
        count = len(self.pairs)
        if cfg.rate_per_sender is None:
            senders = [self.closed_loop(p, self.window_end_ns) for p in self.pairs]
        else:
            senders = [
                self.open_loop(p, start_ns, self.window_end_ns, i / max(1, count))
                for i, p in enumerate(self.pairs)
            ]
        sending = asyncio.gather(*senders)
        left = (self.window_end_ns - time.time_ns()) / 1e9
        await asyncio.wait({sending}, timeout=max(0.0, left))
        for p in self.pairs:  # wake senders that wait for a window slot
            for _ in range(cfg.window):
                p.slots.release()
        try:
            await asyncio.wait_for(sending, timeout=5)
        except TimeoutError:
            self.result.closed.append("a send had not completed 5 s after the end of the run")
        await self.drain()
        self.stopping = True
        for p in self.pairs:
            for _ in range(cfg.window):
                p.slots.release()
        reporter.cancel()
        await self.close_all()
        self.finish()

    async def close_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        sockets = [ws for p in self.pairs for ws in (p.sender, p.receiver) if ws is not None]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    def finish(self) -> None:
        r = self.result
        for p in self.pairs:
            check = verify_pair(p.spec.pair, p.acked, p.received, len(p.pending), p.errors)
            r.check.add(check)
        r.latencies_us = self.lat.tobytes()
        r.ack_latencies_us = self.ack_lat.tobytes()
        c, b = self.counters, self.base
        c[b + SENT] = self.sent_total
        c[b + ACKED] = self.acked_total
        c[b + DELIVERED] = self.delivered_total
        c[b + ERRORS] = self.errors_total


def raise_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE_LIMIT if hard == resource.RLIM_INFINITY else min(NOFILE_LIMIT, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def worker_main(cfg: WorkerConfig, counters: Any, start_at: Any, results: Any) -> None:
    """Process entry point (spawned by :mod:`bench.runner`)."""
    raise_nofile_limit()
    run_in_process(Worker(cfg, counters, start_at), cfg.index, counters, results)


def run_in_process(worker: Any, index: int, counters: Any, results: Any) -> None:
    """A load-generator process's body: run ``worker`` on uvloop, then hand in its result
    (with the traceback if it failed) and mark the process done."""
    try:
        import uvloop

        uvloop.run(worker.run())
    except BaseException:
        worker.result.error = traceback.format_exc()
        with contextlib.suppress(Exception):
            worker.finish()
    finally:
        counters[index * SLOTS + DONE] = 1.0
        results.put(worker.result)
