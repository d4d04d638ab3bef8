"""One load-generator process against Synapse, following :mod:`bench.loadgen`'s protocol
(counter slots, start signal, one WorkerResult), so :func:`bench.runner.run_workers`
drives it and the figures land in the same table.

A sender keeps W ``PUT /rooms/{room}/send/m.room.message/{txn}`` requests in flight (an ack
is the 200 with the event_id); a receiver long-polls ``/sync``. After the drain, each
receiver's fresh sync gives the room's order as the server has it: an event's position
there plays the part of Pigeon's seq, so :func:`bench.checks.verify_pair` checks loss,
duplicates, order and ack/delivery agreement exactly as for Pigeon.
"""

from __future__ import annotations

import array
import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bench.checks import verify_pair
from bench.loadgen import (
    ACKED,
    DELIVERED,
    ERRORS,
    MAX_DRAIN_S,
    READY,
    SENT,
    SLOTS,
    WorkerResult,
    raise_nofile_limit,
    run_in_process,
)
from bench.synapse.accounts import Room, auth, sync_filter

N_KEY = "bench_n"
SENT_KEY = "bench_sent_ns"
SYNC_TIMEOUT_MS = 30_000
SEND_ATTEMPTS = 5
CONNECT_CONCURRENCY = 32


@dataclass(frozen=True)
class MatrixWorkerConfig:
    index: int
    run_id: int
    base_url: str
    rooms: list[Room]
    pair_numbers: list[int]
    window: int
    warmup: float
    duration: float
    drain_timeout: float
    text_size: int
    start_timeout: float = 300.0
    request_timeout: float = 300.0


@dataclass
class PairState:
    number: int
    room: Room
    next_n: int = 0
    pending: dict[int, int] = field(default_factory=dict)  # n -> sent_ns
    acked: dict[int, str] = field(default_factory=dict)  # n -> event_id
    received: list[tuple[int, str]] = field(default_factory=list)  # (n, event_id), arrivals
    errors: int = 0


def message_content(n: int, sent_ns: int, size: int) -> dict[str, Any]:
    text = f"{n} {sent_ns} "
    return {
        "msgtype": "m.text",
        "body": text + "x" * max(0, size - len(text)),
        N_KEY: n,
        SENT_KEY: str(sent_ns),  # Matrix JSON integers stop at 2**53
    }


def errcode(response: httpx.Response) -> str:
    """The Matrix error code and message of a failed request, for the error tally."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:80]
    return f"{body.get('errcode')}: {str(body.get('error'))[:80]}"


class MatrixWorker:
    def __init__(self, cfg: MatrixWorkerConfig, counters: Any, start_at: Any) -> None:
        self.cfg = cfg
        self.counters = counters
        self.start_at = start_at
        self.base = cfg.index * SLOTS
        self.pairs = [
            PairState(number, room)
            for number, room in zip(cfg.pair_numbers, cfg.rooms, strict=True)
        ]
        self.result = WorkerResult(index=cfg.index)
        self.lat = array.array("q")
        self.ack_lat = array.array("q")
        self.totals = {"sent": 0, "acked": 0, "delivered": 0, "errors": 0}
        self.window_start_ns = 0
        self.window_end_ns = 0
        self.stopping = False
        conns = len(self.pairs) * (cfg.window + 1) + 4
        self.client = httpx.AsyncClient(
            base_url=cfg.base_url,
            timeout=cfg.request_timeout,
            limits=httpx.Limits(max_connections=conns, max_keepalive_connections=conns),
        )

    def in_window(self, t_ns: int) -> bool:
        return self.window_start_ns <= t_ns < self.window_end_ns

    def error(self, code: str) -> None:
        self.totals["errors"] += 1
        self.result.error_codes[code] = self.result.error_codes.get(code, 0) + 1

    def other(self, kind: str) -> None:
        self.result.other_frames[kind] = self.result.other_frames.get(kind, 0) + 1

    # --- senders ----------------------------------------------------------------------

    async def send_one(self, pair: PairState, sent_ns: int) -> None:
        n = pair.next_n
        pair.next_n += 1
        pair.pending[n] = sent_ns
        room = quote(pair.room.room_id)
        txn = f"{self.cfg.run_id:x}-{pair.number}-{n}"
        self.totals["sent"] += 1
        if self.in_window(sent_ns):
            self.result.sent += 1
        url = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"
        content = message_content(n, sent_ns, self.cfg.text_size)
        for attempt in range(SEND_ATTEMPTS):
            try:
                response = await self.client.put(
                    url, json=content, headers=auth(pair.room.sender.token)
                )
                break
            except httpx.TransportError as exc:
                # The same txn id again, as a Matrix client does: the server answers a
                # repeat with the first event_id, so a retry cannot duplicate a message.
                self.other(f"send retried after {type(exc).__name__}")
                if attempt + 1 == SEND_ATTEMPTS:
                    pair.pending.pop(n, None)
                    pair.errors += 1
                    self.error(f"send {type(exc).__name__}")
                    return
                await asyncio.sleep(0.2 * (attempt + 1))
        now = time.time_ns()
        pair.pending.pop(n, None)
        if response.status_code != 200:
            pair.errors += 1
            self.error(f"send HTTP {response.status_code} {errcode(response)}")
            return
        pair.acked[n] = response.json()["event_id"]
        self.totals["acked"] += 1
        if self.in_window(now):
            self.result.acked += 1
        if self.in_window(sent_ns):
            self.ack_lat.append((now - sent_ns) // 1000)

    async def slot(self, pair: PairState) -> None:
        """One of the sender's W in-flight places: the next send when the last is acked."""
        while not self.stopping:
            now = time.time_ns()
            if now >= self.window_end_ns:
                return
            await self.send_one(pair, now)

    # --- receivers --------------------------------------------------------------------

    async def sync_loop(self, pair: PairState) -> None:
        since = pair.room.since
        params = {"filter": sync_filter(), "timeout": str(SYNC_TIMEOUT_MS)}
        headers = auth(pair.room.receiver.token)
        while True:
            try:
                response = await self.client.get(
                    "/_matrix/client/v3/sync", params={**params, "since": since}, headers=headers
                )
            except httpx.HTTPError as exc:
                self.other(f"sync {type(exc).__name__}")  # retried from the same token
                await asyncio.sleep(0.5)
                continue
            now = time.time_ns()
            if response.status_code != 200:
                self.error(f"sync HTTP {response.status_code} {errcode(response)}")
                await asyncio.sleep(0.5)
                continue
            body = response.json()
            since = body["next_batch"]
            self.take(pair, body, now)

    def take(self, pair: PairState, body: dict[str, Any], now: int) -> None:
        joined = body.get("rooms", {}).get("join", {}).get(pair.room.room_id)
        if not joined:
            return
        timeline = joined.get("timeline", {})
        if timeline.get("limited"):
            self.other("sync_limited")  # events skipped by the server: they count as lost
        for event in timeline.get("events", []):
            content = event.get("content", {})
            n, sent = content.get(N_KEY), content.get(SENT_KEY)
            if not isinstance(n, int) or not isinstance(sent, str) or not sent.isdigit():
                continue
            sent_ns = int(sent)
            pair.received.append((n, event["event_id"]))
            self.totals["delivered"] += 1
            if self.in_window(now):
                self.result.delivered += 1
            if self.in_window(sent_ns):
                self.lat.append((now - sent_ns) // 1000)

    # --- phases -----------------------------------------------------------------------

    async def report(self) -> None:
        while True:
            self.publish()
            await asyncio.sleep(0.2)

    def publish(self) -> None:
        c, b, t = self.counters, self.base, self.totals
        c[b + SENT], c[b + ACKED] = t["sent"], t["acked"]
        c[b + DELIVERED], c[b + ERRORS] = t["delivered"], t["errors"]

    def settled(self) -> bool:
        return all(not p.pending and len(p.received) >= len(p.acked) for p in self.pairs)

    async def drain(self) -> None:
        started = last_change = time.monotonic()
        seen = -1
        while not self.settled():
            now = time.monotonic()
            progress = self.totals["acked"] + self.totals["delivered"] + self.totals["errors"]
            if progress != seen:
                seen, last_change = progress, now
            if now - last_change > self.cfg.drain_timeout or now - started > MAX_DRAIN_S:
                return
            await asyncio.sleep(0.05)

    async def wait_start(self) -> int:
        deadline = time.monotonic() + self.cfg.start_timeout
        while self.start_at.value == 0.0:
            if time.monotonic() > deadline:
                raise TimeoutError("the runner never gave the start signal")
            await asyncio.sleep(0.01)
        if self.start_at.value < 0:
            raise RuntimeError("the runner aborted the run")
        return int(self.start_at.value * 1e9)

    async def connect_all(self) -> None:
        """Open the W + 1 keep-alive connections of every pair before the start, as the
        WebSocket load generator opens its sockets first: each probe holds its connection
        until all are open, so none is reused."""
        total = len(self.pairs) * (self.cfg.window + 1)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        all_open = asyncio.Event()
        opened = 0

        async def one() -> None:
            nonlocal opened
            await gate.acquire()
            released = False
            try:
                async with self.client.stream("GET", "/_matrix/client/versions") as response:
                    gate.release()
                    released = True
                    opened += 1
                    if opened == total:
                        all_open.set()
                    await all_open.wait()
                    await response.aread()
            finally:
                if not released:
                    gate.release()

        await asyncio.gather(*(one() for _ in range(total)))

    async def run(self) -> None:
        cfg = self.cfg
        await self.connect_all()
        syncs = [asyncio.create_task(self.sync_loop(p)) for p in self.pairs]
        reporter = asyncio.create_task(self.report())
        self.counters[self.base + READY] = 1.0
        try:
            start_ns = await self.wait_start()
            self.window_start_ns = start_ns + int(cfg.warmup * 1e9)
            self.window_end_ns = self.window_start_ns + int(cfg.duration * 1e9)
            await asyncio.sleep(max(0.0, (start_ns - time.time_ns()) / 1e9))
            await asyncio.gather(*(self.slot(p) for p in self.pairs for _ in range(cfg.window)))
            await self.drain()
        finally:
            self.stopping = True
            for task in (*syncs, reporter):
                task.cancel()
            await asyncio.gather(*syncs, reporter, return_exceptions=True)
        await self.verify()
        await self.client.aclose()

    async def server_order(self, pair: PairState) -> dict[str, int]:
        """event_id -> position in the room's timeline, from a fresh sync (stream order)."""
        limit = len(pair.acked) + len(pair.received) + 10
        response = await self.client.get(
            "/_matrix/client/v3/sync",
            params={"filter": sync_filter(limit), "timeout": "0"},
            headers=auth(pair.room.receiver.token),
        )
        response.raise_for_status()
        joined = response.json().get("rooms", {}).get("join", {}).get(pair.room.room_id, {})
        events = joined.get("timeline", {}).get("events", [])
        return {event["event_id"]: i for i, event in enumerate(events)}

    async def verify(self) -> None:
        for pair in self.pairs:
            order = await self.server_order(pair)
            missing = [e for _, e in pair.received if e not in order]
            acked: dict[int, int | None] = {n: order.get(e, -1) for n, e in pair.acked.items()}
            received = [(n, order.get(e, -1)) for n, e in pair.received]
            check = verify_pair(pair.number, acked, received, len(pair.pending), pair.errors)
            if missing:
                check.examples.append(
                    f"pair {pair.number}: {len(missing)} received events not in the room's "
                    "timeline afterwards"
                )
            self.result.check.add(check)
        self.finish()

    def finish(self) -> None:
        self.result.latencies_us = self.lat.tobytes()
        self.result.ack_latencies_us = self.ack_lat.tobytes()
        self.publish()


def matrix_worker_main(cfg: MatrixWorkerConfig, counters: Any, start_at: Any, results: Any) -> None:
    """Process entry point (spawned by :func:`bench.runner.run_workers`)."""
    raise_nofile_limit()
    run_in_process(MatrixWorker(cfg, counters, start_at), cfg.index, counters, results)
