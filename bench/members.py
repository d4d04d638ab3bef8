"""One load process of the group scenarios: online members that follow the client
algorithm of docs/protocol.md, and the senders that write to the group.

A member holds, per the sync rules, the highest seq it has in order. A pushed ``message``
that follows it is taken; one further ahead opens a gap (held back, then a pull); a
``notice`` (hot groups) starts a pull, or one more pull after the running one. A pull
pages from the held seq until ``has_more`` is false, over HTTP (``GET
.../messages?after=``) or a ``sync`` frame (``--pull``). Every arrival is timed and its
seq recorded, so the parent can check every member and time each (message, member)
from the sender's ack.

A sender is a member with a second device (``desktop``) that only sends, open loop, at
its share of the rate; it records the seq and time of every ack.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import frames
from bench.loadgen import ACKED, DELIVERED, DONE, ERRORS, READY, SENT, SLOTS, raise_nofile_limit

Pull = Literal["http", "sync"]
PAGE = 200
PULL_ATTEMPTS = 4


@dataclass(frozen=True)
class Endpoint:
    """One device of one user: its token, and the gateway it connects to."""

    user_id: int
    token: str
    ws_url: str


@dataclass(frozen=True)
class GroupWorkerConfig:
    index: int
    run_id: int
    api: str  # HTTP base URL
    conversation_id: int
    members: list[Endpoint]
    senders: list[Endpoint]
    sender_offset: int  # the index of this worker's first sender among all senders
    rate_per_sender: float
    duration: float
    pull: Pull
    text_size: int
    http_connections: int = 50
    connect_concurrency: int = 32


@dataclass
class MemberRecord:
    user_id: int
    start_seq: int = 0
    seqs: array.array[int] = field(default_factory=lambda: array.array("q"))
    arrival_ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    # What the server sent, which the client algorithm absorbs (pushes are at-least-once
    # and may overtake each other): reported, not failures.
    duplicate_pushes: int = 0  # a push of a seq already held or already waiting
    late_pushes: int = 0  # a push below one that arrived before it
    gaps: int = 0  # a push that skipped seqs (held back, filled by a pull)
    overlap: int = 0  # pulled messages already held (pushes came in during the pull)
    # Failures: a pulled page that does not start right after the seq it was asked from.
    bad_pages: int = 0
    notices: int = 0
    pulls: int = 0
    pushes: int = 0
    pull_retries: int = 0  # pulls that failed and were tried again


@dataclass
class SentRecord:
    sender: int
    n: int
    client_msg_id: str
    sent_ns: int
    ack_ns: int = 0
    seq: int = 0
    error: str = ""


@dataclass
class GroupWorkerResult:
    index: int
    error: str | None = None
    members: list[MemberRecord] = field(default_factory=list)
    sent: list[SentRecord] = field(default_factory=list)
    other_frames: dict[str, int] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)


class Member:
    def __init__(self, worker: GroupWorker, endpoint: Endpoint) -> None:
        self.worker = worker
        self.endpoint = endpoint
        self.record = MemberRecord(user_id=endpoint.user_id)
        self.held = 0
        self.highest_push = 0
        self.waiting: dict[int, int] = {}  # seq -> arrival ns, pushed after a gap
        self.pulling = False
        self.again = False
        self.ws: ClientConnection | None = None
        self.replies: dict[str, asyncio.Future[Any]] = {}
        self.refs = 0

    def deliver(self, seq: int, now: int) -> None:
        """Hold ``seq``: it follows the held seq (a later one shows as lost in the check)."""
        if seq <= self.held:
            self.record.overlap += 1
            return
        self.held = seq
        self.record.seqs.append(seq)
        self.record.arrival_ns.append(now)
        self.worker.delivered += 1

    def on_push(self, seq: int) -> None:
        now = time.time_ns()
        self.record.pushes += 1
        if seq < self.highest_push:
            self.record.late_pushes += 1
        self.highest_push = max(self.highest_push, seq)
        if seq <= self.held or seq in self.waiting:
            self.record.duplicate_pushes += 1
            return
        if seq > self.held + 1:
            self.record.gaps += 1
            self.waiting[seq] = now
            self.pull_soon()
            return
        self.deliver(seq, now)
        self.take_waiting()

    def take_waiting(self) -> None:
        while self.held + 1 in self.waiting:
            self.deliver(self.held + 1, self.waiting.pop(self.held + 1))
        for seq in [s for s in self.waiting if s <= self.held]:
            del self.waiting[seq]

    def pull_soon(self) -> None:
        if self.pulling:
            self.again = True
            return
        self.pulling = True
        self.worker.spawn(self.pull_until_settled())

    async def pull_until_settled(self) -> None:
        """Pull until no notice came meanwhile. A failed pull is tried again after a pause,
        as the SDK does (a keep-alive connection the server closed, a busy server); only
        ``PULL_ATTEMPTS`` failures in a row count against the run."""
        failures = 0
        try:
            while True:
                self.again = False
                try:
                    await self.pull()
                except (httpx.HTTPError, TimeoutError) as exc:
                    failures += 1
                    self.record.pull_retries += 1
                    if failures >= PULL_ATTEMPTS:
                        self.worker.failed(f"member {self.endpoint.user_id}: pull failed: {exc!r}")
                        return
                    await asyncio.sleep(0.2 * 2**failures)
                    self.again = True
                else:
                    failures = 0
                if not self.again:
                    return
        except ConnectionClosed as exc:
            self.worker.failed(f"member {self.endpoint.user_id}: pull failed: {exc!r}")
        finally:
            self.pulling = False

    async def pull(self) -> None:
        while True:
            self.record.pulls += 1
            after = self.held
            page = await (
                self.pull_http(after) if self.worker.cfg.pull == "http" else self.pull_ws(after)
            )
            now = time.time_ns()
            messages = page["messages"]
            seqs = [int(m["seq"]) for m in messages]
            if seqs and seqs != list(range(after + 1, after + 1 + len(seqs))):
                self.record.bad_pages += 1
            for message in messages:
                seq = int(message["seq"])
                self.waiting.pop(seq, None)
                self.deliver(seq, now)
            self.take_waiting()
            if not page["has_more"]:
                return

    async def pull_http(self, after: int) -> Any:
        cid = self.worker.cfg.conversation_id
        response = await self.worker.http.get(
            f"/conversations/{cid}/messages",
            params={"after": after, "limit": PAGE},
            headers={"Authorization": f"Bearer {self.endpoint.token}"},
        )
        if response.status_code != 200:
            raise httpx.HTTPError(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    async def pull_ws(self, after: int) -> Any:
        assert self.ws is not None
        self.refs += 1
        ref = f"p{self.refs}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.replies[ref] = future
        frame = {
            "type": "sync",
            "ref": ref,
            "conversation_id": self.worker.cfg.conversation_id,
            "after": after,
            "limit": PAGE,
        }
        await self.ws.send(frames.encode(frame))
        reply = await asyncio.wait_for(future, timeout=60)
        if reply.get("type") != "messages":
            raise TimeoutError(f"sync answered {reply!r}")
        return reply

    async def read(self) -> None:
        ws = self.ws
        assert ws is not None
        cid = self.worker.cfg.conversation_id
        try:
            async for raw in ws:
                frame = frames.decode(raw)
                kind = frame.get("type")
                if kind == "message" and frame["message"]["conversation_id"] == cid:
                    self.on_push(int(frame["message"]["seq"]))
                elif kind == "notice" and frame.get("conversation_id") == cid:
                    self.record.notices += 1
                    self.pull_soon()
                elif kind in ("messages", "error") and frame.get("ref") in self.replies:
                    self.replies.pop(frame["ref"]).set_result(frame)
                elif kind != "pong":
                    self.worker.count_other(f"member:{kind}")
        except ConnectionClosed as exc:
            if not self.worker.stopping:
                self.worker.closed(f"member {self.endpoint.user_id}", exc)


class GroupWorker:
    def __init__(self, cfg: GroupWorkerConfig, counters: Any, control: Any) -> None:
        self.cfg = cfg
        self.counters = counters
        self.control = control  # [start time, stop flag]
        self.base = cfg.index * SLOTS
        self.members = [Member(self, e) for e in cfg.members]
        self.sender_ws: list[ClientConnection] = []
        self.result = GroupWorkerResult(index=cfg.index)
        self.pending: dict[str, SentRecord] = {}
        self.delivered = 0
        self.errors = 0
        self.stopping = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.http = httpx.AsyncClient(
            base_url=f"{cfg.api}/api/v1",
            timeout=60.0,
            limits=httpx.Limits(max_connections=cfg.http_connections),
        )

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def count_other(self, kind: str) -> None:
        self.result.other_frames[kind] = self.result.other_frames.get(kind, 0) + 1

    def failed(self, why: str) -> None:
        self.errors += 1
        if len(self.result.closed) < 50:
            self.result.closed.append(why)

    def closed(self, who: str, exc: ConnectionClosed) -> None:
        rcvd = exc.rcvd
        self.failed(f"{who} socket closed: " + (f"code {rcvd.code}" if rcvd else "no close frame"))

    async def open(self, endpoint: Endpoint, device: str) -> ClientConnection:
        ws = await connect(
            endpoint.ws_url,
            compression=None,
            proxy=None,
            open_timeout=60,
            ping_interval=None,
            close_timeout=2,
            max_size=2**22,
            max_queue=None,
        )
        await ws.send(frames.encode({"type": "auth", "token": endpoint.token, "device": device}))
        hello = frames.decode(await asyncio.wait_for(ws.recv(), timeout=60))
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello!r}")
        interval = hello.get("heartbeat_interval")
        if isinstance(interval, int) and interval > 0:
            self.spawn(self.heartbeat(ws, interval / 1000))
        return ws

    async def heartbeat(self, ws: ClientConnection, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while not self.stopping:
                await asyncio.sleep(interval * 0.8)
                await ws.send(frames.PING)

    async def connect_member(self, member: Member) -> None:
        """Socket first, then the conversation list (step 1 of the sync algorithm)."""
        member.ws = await self.open(member.endpoint, "web")
        self.spawn(member.read())
        response = await self.http.get(
            "/conversations", headers={"Authorization": f"Bearer {member.endpoint.token}"}
        )
        response.raise_for_status()
        for conversation in response.json()["conversations"]:
            if int(conversation["id"]) == self.cfg.conversation_id:
                member.held = int(conversation["last_seq"])
                member.record.start_seq = member.held
                return
        raise RuntimeError(f"user {member.endpoint.user_id} does not list the group")

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(self.cfg.connect_concurrency)

        async def member(m: Member) -> None:
            async with gate:
                await self.connect_member(m)

        async def sender(e: Endpoint) -> ClientConnection:
            async with gate:
                return await self.open(e, "desktop")

        await asyncio.gather(*(member(m) for m in self.members))
        self.sender_ws = list(await asyncio.gather(*(sender(e) for e in self.cfg.senders)))
        for i, ws in enumerate(self.sender_ws):
            self.spawn(self.read_sender(i, ws))

    async def read_sender(self, index: int, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = frames.decode(raw)
                kind = frame.get("type")
                record = self.pending.pop(str(frame.get("ref")), None)
                if kind == "ack" and record is not None:
                    record.ack_ns = time.time_ns()
                    record.seq = int(frame["seq"])
                elif kind == "error" and record is not None:
                    record.error = str(frame.get("code"))
                    self.errors += 1
                elif kind not in ("pong", "notice", "message"):
                    self.count_other(f"sender:{kind}")
        except ConnectionClosed as exc:
            if not self.stopping:
                self.closed(f"sender {index}", exc)

    async def send_loop(self, index: int, ws: ClientConnection, start_ns: int) -> None:
        sender = self.cfg.sender_offset + index
        interval_ns = int(1e9 / self.cfg.rate_per_sender)
        count = len(self.cfg.senders)
        due = start_ns + int(interval_ns * index / max(1, count))
        end_ns = start_ns + int(self.cfg.duration * 1e9)
        n = 0
        while due < end_ns and not self.stopping:
            delay = (due - time.time_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            cid = frames.client_msg_id(self.cfg.run_id, sender, n)
            record = SentRecord(sender=sender, n=n, client_msg_id=cid, sent_ns=due)
            ref = f"{sender}:{n}"
            self.pending[ref] = record
            self.result.sent.append(record)
            frame = {
                "type": "send",
                "ref": ref,
                "client_msg_id": cid,
                "conversation_id": self.cfg.conversation_id,
                "kind": "text",
                "body": {"text": frames.make_text(n, due, self.cfg.text_size)},
            }
            try:
                await ws.send(frames.encode(frame))
            except ConnectionClosed as exc:
                self.closed(f"sender {sender}", exc)
                return
            n += 1
            due += interval_ns

    async def report(self) -> None:
        c, b = self.counters, self.base
        while True:
            c[b + SENT] = len(self.result.sent)
            c[b + ACKED] = sum(1 for r in self.result.sent if r.seq)
            c[b + DELIVERED] = self.delivered
            c[b + ERRORS] = self.errors
            await asyncio.sleep(0.2)

    async def run(self) -> None:
        await self.connect_all()
        reporter = asyncio.create_task(self.report())
        self.counters[self.base + READY] = 1.0
        await self.wait_for_parent(0, 1800)
        if self.control[0] < 0:
            raise RuntimeError("the parent aborted the run")
        start_ns = int(self.control[0] * 1e9)
        await asyncio.sleep(max(0.0, (start_ns - time.time_ns()) / 1e9))
        senders = [self.send_loop(i, ws, start_ns) for i, ws in enumerate(self.sender_ws)]
        await asyncio.gather(*senders)
        await self.wait_for_parent(1, 3600)  # when every member holds everything
        self.stopping = True
        reporter.cancel()
        await self.close_all()

    async def wait_for_parent(self, slot: int, timeout: float) -> None:
        """The parent flips a shared float (start time, stop flag) from another process."""
        deadline = time.monotonic() + timeout
        while self.control[slot] == 0.0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no word from the parent after {timeout:.0f}s")
            await asyncio.sleep(0.02)

    async def close_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        sockets = [m.ws for m in self.members if m.ws is not None] + self.sender_ws
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await self.http.aclose()

    def finish(self) -> None:
        self.result.members = [m.record for m in self.members]
        c, b = self.counters, self.base
        c[b + SENT] = len(self.result.sent)
        c[b + ACKED] = sum(1 for r in self.result.sent if r.seq)
        c[b + DELIVERED] = self.delivered
        c[b + ERRORS] = self.errors


def group_worker_main(cfg: GroupWorkerConfig, counters: Any, control: Any, results: Any) -> None:
    """Process entry point (spawned by :mod:`bench.group_run`)."""
    raise_nofile_limit()
    worker = GroupWorker(cfg, counters, control)
    try:
        import uvloop

        uvloop.run(worker.run())
    except BaseException:
        worker.result.error = traceback.format_exc()
    finally:
        worker.finish()
        counters[cfg.index * SLOTS + DONE] = 1.0
        results.put(worker.result)
