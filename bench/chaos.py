"""``python -m bench chaos``: messages flow while processes are killed, stopped and
restarted, and every acknowledged message is checked on every device that should get it.

The run starts a cluster of its own (:mod:`bench.chaos_cluster`), makes users, friends, a
normal group and a hot group over HTTP, connects one ``PigeonClient`` per device (some
users have two, on different gateways), and lets senders send at a steady rate over their
sockets and over HTTP. Meanwhile one fault at a time, with recovery gaps: ``kill -9`` of a
gateway, an API server or a worker (each restarted after a few seconds under the same id
and port), SIGSTOP of a gateway (SIGCONT a few seconds later) and Redis killed and
restarted empty. After the traffic stops, a settle period lets clients reconnect and sync;
then :mod:`bench.chaos_check` compares every ack with what every device yielded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.chaos_check import (
    Ack,
    Arrival,
    CheckResult,
    DeviceRecord,
    Fault,
    Link,
    RunData,
    check,
    missing_count,
)
from bench.chaos_cluster import ChaosCluster, Proc, missing_services
from bench.progress import Progress
from bench.report import machine, write_json
from bench.servers import ROOT, ServerError, add_database_args
from pigeon.client import ApiError, PigeonClient

PASSWORD = "Chaos-pass-2024"
FAULT_KINDS = ("gateway_kill", "platform_kill", "worker_kill", "gateway_stop", "redis_restart")
SHORT_DURATION_S = 75.0
SHORT_SETTLE_S = 20.0
POLL_S = 0.02


class ChaosError(RuntimeError):
    pass


# The delivery bound's p99 (docs/architecture.md); the hard bound is --late-after.
P99_TARGET_MS = 2000.0


@dataclass(frozen=True)
class ChaosOptions:
    duration: float = 300.0
    warmup: float = 8.0
    settle: float = 30.0
    gap: float = 7.0
    down: float = 3.0
    stop_for: float = 4.0
    group_rate: float = 3.0
    private_rate: float = 2.0
    http_rate: float = 1.5
    late_after: float = 5.0
    hot_threshold: int = 30
    seed: int = 0
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    keep_db: bool = False
    progress: bool = True
    server_env: tuple[tuple[str, str], ...] = ()


# --- who is who -------------------------------------------------------------------------

USERS = 44
HOT_MEMBERS = range(0, 40)  # 40 members: hot with a threshold of 30
GROUP_MEMBERS = range(24, 44)  # 20 members: a normal group
PRIVATE_PAIRS = [(2 * i, 2 * i + 1) for i in range(8)]
TWO_DEVICES = [i for i in range(USERS) if i % 4 == 0]  # web + desktop, on different gateways
HOT_SENDERS = [0, 5, 10, 33]
GROUP_SENDERS = [24, 27, 30, 43]
HTTP_SENDERS = [("hot", 1), ("group", 26), ("private", 2)]  # (conversation, user)


@dataclass
class Device:
    name: str
    user: int  # index in the plan
    client: PigeonClient
    home: str  # gateway it first connects to
    links: list[Link] = field(default_factory=list)
    up_since: float | None = None
    last_seen_up: float = 0.0
    gateway: str = ""
    reconnects: int = 0
    events: list[str] = field(default_factory=list)


@dataclass
class World:
    run_id: str
    user_ids: list[int]
    devices: list[Device]
    http_clients: dict[int, PigeonClient]
    conversations: dict[str, int]  # "hot", "group", "private:2-3" -> id
    members: dict[int, dict[int, int]]
    gateway_names: dict[str, str]  # ws url -> gateway id


@dataclass
class Recorder:
    t0: float
    acks: list[Ack] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    arrived: set[tuple[str, int, int]] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    fault_log: list[dict[str, Any]] = field(default_factory=list)
    send_errors: Counter[str] = field(default_factory=Counter)
    abandoned: list[str] = field(default_factory=list)
    phase: str = "setting up"
    log_lines: list[str] = field(default_factory=list)
    bar: Progress | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        line = f"[{self.now():7.1f}s] {text}"
        self.log_lines.append(line)
        bar = self.bar.bar if self.bar is not None else None
        if bar is not None:
            bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)


# --- setup ------------------------------------------------------------------------------


async def _gather_limited(jobs: list[Callable[[], Awaitable[Any]]], limit: int = 8) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def build_world(cluster: ChaosCluster, run_id: str) -> World:
    apis = cluster.api_urls
    gateways = cluster.gateway_urls()
    gw_names = list(gateways)
    names = [f"chaos{run_id}u{i}" for i in range(USERS)]
    devices: list[Device] = []
    first: dict[int, PigeonClient] = {}

    def client_for(i: int, kind: str, gateway: str | None) -> PigeonClient:
        api = apis[(i + (kind == "desktop")) % len(apis)]
        return PigeonClient(api, device=kind, ws_url=gateways[gateway] if gateway else None)

    for i in range(USERS):
        home = gw_names[i % len(gw_names)]
        devices.append(Device(f"u{i}/web", i, client_for(i, "web", home), home))
        first[i] = devices[-1].client
        if i in TWO_DEVICES:
            other = gw_names[(gw_names.index(home) + 1) % len(gw_names)]
            devices.append(Device(f"u{i}/desktop", i, client_for(i, "desktop", other), other))

    async def register(i: int) -> None:
        await first[i].register(names[i], PASSWORD)

    await _gather_limited([partial(register, i) for i in range(USERS)])
    user_ids = [first[i].user_id for i in range(USERS)]
    later = [d for d in devices if d.client is not first[d.user]]
    await _gather_limited([partial(d.client.login, names[d.user], PASSWORD) for d in later])
    http_clients: dict[int, PigeonClient] = {}
    for _, user in HTTP_SENDERS:
        if user not in http_clients:
            client = PigeonClient(apis[user % len(apis)], device="mobile")
            await client.login(names[user], PASSWORD)
            http_clients[user] = client

    conversations: dict[str, int] = {}
    for a, b in PRIVATE_PAIRS:
        request = await first[a].request("POST", "/friends/requests", json={"user_id": user_ids[b]})
        await first[b].request("POST", f"/friends/requests/{request['id']}/accept")
        opened = await first[a].request(
            "POST", "/conversations/private", json={"user_id": user_ids[b]}
        )
        conversations[f"private:{a}-{b}"] = int(opened["id"])
    for key, planned in (("hot", HOT_MEMBERS), ("group", GROUP_MEMBERS)):
        owner = planned[0]
        group = await first[owner].request(
            "POST",
            "/groups",
            json={"name": f"chaos {key}", "member_ids": [user_ids[m] for m in planned[1:]]},
        )
        if bool(group.get("hot")) != (key == "hot"):
            raise ChaosError(f"group {key} has {len(planned)} members but hot={group.get('hot')}")
        mine = await first[owner].request("GET", "/conversations")
        conversations[key] = next(
            int(c["id"])
            for c in mine["conversations"]
            if c.get("group") and int(c["group"]["id"]) == int(group["id"])
        )

    plan_members: dict[int, set[int]] = {
        conversations["hot"]: {user_ids[m] for m in HOT_MEMBERS},
        conversations["group"]: {user_ids[m] for m in GROUP_MEMBERS},
    }
    for a, b in PRIVATE_PAIRS:
        plan_members[conversations[f"private:{a}-{b}"]] = {user_ids[a], user_ids[b]}
    # visible_from_seq as each member's own conversation list reports it.
    members: dict[int, dict[int, int]] = {cid: {} for cid in plan_members}

    async def listing(i: int) -> None:
        found = await first[i].request("GET", "/conversations")
        for conversation in found["conversations"]:
            cid = int(conversation["id"])
            if cid in members and user_ids[i] in plan_members[cid]:
                members[cid][user_ids[i]] = int(conversation.get("visible_from_seq", 0))

    await _gather_limited([partial(listing, i) for i in range(USERS)])
    for cid, wanted in plan_members.items():
        if set(members[cid]) != wanted:
            raise ChaosError(
                f"conversation {cid}: members {sorted(wanted - set(members[cid]))} do not list it"
            )
    return World(
        run_id,
        user_ids,
        devices,
        http_clients,
        conversations,
        members,
        {url: name for name, url in gateways.items()},
    )


# --- observing devices ------------------------------------------------------------------


async def consume(device: Device, rec: Recorder) -> None:
    while True:
        message = await device.client.next_message(timeout=86_400)
        record_arrival(device, message, rec)


def record_arrival(device: Device, message: dict[str, Any], rec: Recorder) -> None:
    arrival = Arrival(
        device.name,
        int(message["conversation_id"]),
        int(message["seq"]),
        int(message["id"]),
        message.get("client_msg_id"),
        rec.now(),
    )
    rec.arrivals.append(arrival)
    rec.arrived.add((arrival.device, arrival.conversation_id, arrival.seq))


def observe(devices: list[Device], world: World, rec: Recorder) -> None:
    """One poll of every device: a link is open while the client is connected and caught up
    with no reconnect in between (times are those of polls: a link never overstates)."""
    now = rec.now()
    for device in devices:
        client = device.client
        up = client.connected and client.reconnects == device.reconnects
        if device.up_since is not None and not up:
            device.links.append(Link(device.up_since, device.last_seen_up, device.gateway))
            device.up_since = None
        if device.up_since is None and client.connected:
            device.up_since = now
            device.reconnects = client.reconnects
            device.gateway = world.gateway_names.get(client.ws_url, client.ws_url)
        if device.up_since is not None:
            device.last_seen_up = now
        runner = client._runner
        if runner is not None and runner.done() and not device.events:
            error = None if runner.cancelled() else runner.exception()
            device.events.append(f"{now:.1f}s client stopped for good: {error!r}")
            rec.say(f"!!! {device.name}: the client stopped reconnecting: {error!r}")
        if client.kicked and not any("kicked" in e for e in device.events):
            device.events.append(f"{now:.1f}s kicked: {client.kicked}")
            rec.say(f"!!! {device.name}: kicked ({client.kicked})")


async def monitor(devices: list[Device], world: World, rec: Recorder) -> None:
    while True:
        observe(devices, world, rec)
        await asyncio.sleep(POLL_S)


def close_links(devices: list[Device], rec: Recorder) -> None:
    for device in devices:
        if device.up_since is not None:
            device.links.append(Link(device.up_since, device.last_seen_up, device.gateway))
            device.up_since = None


# --- traffic ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderSpec:
    name: str
    user: int
    conversation: int
    rate: float
    device: Device | None  # None: over HTTP


@dataclass
class TrafficEnd:
    """When the senders stop: ``--duration``, or later, so that every kind of fault has
    happened at least once while messages flow (restarts are slow on a busy machine)."""

    at: float


async def run_sender(
    spec: SenderSpec,
    world: World,
    apis: list[str],
    rec: Recorder,
    end: TrafficEnd,
    rng: random.Random,
) -> None:
    interval = 1.0 / spec.rate
    due = rec.now() + rng.random() * interval
    n = 0
    while due < end.at:
        await asyncio.sleep(max(0.0, due - rec.now()))
        cmid = f"{world.run_id}-{spec.name}-{n}"
        n += 1
        sent_at = rec.now()
        if spec.device is not None:
            ack = await _send_ws(spec.device.client, spec.conversation, cmid, rec)
        else:
            ack = await _send_http(world.http_clients[spec.user], apis, spec, cmid, rec)
        if ack is None:
            rec.abandoned.append(cmid)
        else:
            rec.acks.append(
                Ack(
                    conversation_id=int(ack["conversation_id"]),
                    seq=int(ack["seq"]),
                    message_id=int(ack["message_id"]),
                    client_msg_id=str(ack["client_msg_id"]),
                    sender=spec.name,
                    sender_user=world.user_ids[spec.user],
                    sender_device=spec.device.name if spec.device else None,
                    sent_at=sent_at,
                    acked_at=rec.now(),
                )
            )
        due = max(due + interval, rec.now())


GIVE_UP_S = 60.0


async def _send_ws(
    client: PigeonClient, conversation: int, cmid: str, rec: Recorder
) -> dict[str, Any] | None:
    """The SDK retries with the same client_msg_id; so do we, until acked or GIVE_UP_S
    (a kicked client never reconnects: its sends are abandoned at once)."""
    started = time.monotonic()
    while time.monotonic() - started < GIVE_UP_S and not client.kicked:
        try:
            return await client.send_text(
                f"chaos {cmid}", conversation_id=conversation, client_msg_id=cmid
            )
        except (ConnectionError, TimeoutError) as exc:
            rec.send_errors[f"ws {type(exc).__name__}"] += 1
        except ApiError as exc:
            rec.send_errors[f"ws {exc.code}"] += 1
        await asyncio.sleep(0.5)
    return None


async def _send_http(
    client: PigeonClient, apis: list[str], spec: SenderSpec, cmid: str, rec: Recorder
) -> dict[str, Any] | None:
    """POST /conversations/{id}/messages, over each API server in turn until one acks."""
    body = {"client_msg_id": cmid, "kind": "text", "body": {"text": f"chaos {cmid}"}}
    started = time.monotonic()
    attempt = 0
    async with httpx.AsyncClient(timeout=10.0) as http:
        while time.monotonic() - started < GIVE_UP_S:
            api = apis[attempt % len(apis)]
            attempt += 1
            try:
                response = await http.post(
                    f"{api}/api/v1/conversations/{spec.conversation}/messages",
                    json=body,
                    headers={"Authorization": f"Bearer {client.access_token}"},
                )
            except httpx.HTTPError as exc:
                rec.send_errors[f"http {type(exc).__name__}"] += 1
                await asyncio.sleep(0.2)
                continue
            if response.status_code in (200, 201):
                ack: dict[str, Any] = response.json()
                return ack
            rec.send_errors[f"http {response.status_code}"] += 1
            if response.status_code == 401:
                with contextlib.suppress(httpx.HTTPError, ApiError):
                    await client.refresh()
            await asyncio.sleep(0.2)
    return None


def senders(world: World, opts: ChaosOptions) -> list[SenderSpec]:
    """Every sender's name is unique (it prefixes its client_msg_ids, and the server
    deduplicates a user's client_msg_ids across all their conversations)."""
    web = {d.user: d for d in world.devices if d.name.endswith("/web")}
    hot, group = world.conversations["hot"], world.conversations["group"]
    out: list[SenderSpec] = []
    for user in HOT_SENDERS:
        out.append(SenderSpec(f"u{user}/web>hot", user, hot, opts.group_rate, web[user]))
    for user in GROUP_SENDERS:
        out.append(SenderSpec(f"u{user}/web>group", user, group, opts.group_rate, web[user]))
    for k, (a, b) in enumerate(PRIVATE_PAIRS):
        user = a if k % 2 == 0 else b
        cid = world.conversations[f"private:{a}-{b}"]
        out.append(SenderSpec(f"u{user}/web>{a}-{b}", user, cid, opts.private_rate, web[user]))
    for key, user in HTTP_SENDERS:
        if key == "private":
            key = next(f"private:{a}-{b}" for a, b in PRIVATE_PAIRS if user in (a, b))
        cid = world.conversations[key]
        out.append(SenderSpec(f"http:u{user}>{key}", user, cid, opts.http_rate, None))
    return out


# --- faults -----------------------------------------------------------------------------

TAIL_S = 5.0  # traffic after the last fault
BUDGET_S = {
    "gateway_kill": 9.0,
    "platform_kill": 9.0,
    "worker_kill": 9.0,
    "gateway_stop": 5.0,
    "redis_restart": 5.0,
}


class Faults:
    def __init__(
        self,
        cluster: ChaosCluster,
        world: World,
        rec: Recorder,
        opts: ChaosOptions,
        rng: random.Random,
    ) -> None:
        self.cluster = cluster
        self.world = world
        self.rec = rec
        self.opts = opts
        self.rng = rng
        self.turn: Counter[str] = Counter()
        self.offset = {kind: rng.randrange(6) for kind in FAULT_KINDS}

    def target(self, kind: str) -> Proc:
        """Redis; the gateway holding most devices (a killed gateway's clients move to the
        others); API servers and workers in turn."""
        if kind == "redis_restart":
            assert self.cluster.redis is not None
            return self.cluster.redis
        pool = self.cluster.of_kind(kind.split("_")[0])
        start = self.offset[kind] + self.turn[kind]
        self.turn[kind] += 1
        turns = [pool[(start + i) % len(pool)] for i in range(len(pool))]
        if kind.startswith("gateway"):
            return max(turns, key=lambda p: self.on_gateway(p.name))
        return turns[0]

    def on_gateway(self, gateway: str) -> int:
        return sum(1 for d in self.world.devices if d.up_since is not None and d.gateway == gateway)

    async def run(self, end: TrafficEnd) -> None:
        """Rounds of every fault kind in a shuffled order until the traffic ends; the
        first round always completes, the traffic waiting for it."""
        await asyncio.sleep(max(0.0, self.opts.warmup - self.rec.now()))
        first = True
        while True:
            order = list(FAULT_KINDS)
            self.rng.shuffle(order)
            for kind in order:
                if not first and self.rec.now() + BUDGET_S[kind] > end.at - TAIL_S:
                    return
                await self.one(kind)
                self.rec.phase = "recovering"
                await asyncio.sleep(self.opts.gap)
                # Messages keep flowing for a while after the last fault of the first round.
                end.at = max(end.at, self.rec.now() + TAIL_S)
            first = False

    async def one(self, kind: str) -> None:
        proc = self.target(kind)
        rec = self.rec
        start = rec.now()
        detail = ""
        if proc.kind == "gateway":
            detail = f", {self.on_gateway(proc.name)} devices connected to it"
        rec.phase = f"{kind} {proc.name}"
        if kind == "gateway_stop":
            rec.say(f"fault: SIGSTOP {proc.name} (pid {proc.pid}){detail}")
            proc.note("SIGSTOP")
            proc.signal(signal.SIGSTOP)
            await asyncio.sleep(self.opts.stop_for)
            proc.signal(signal.SIGCONT)
            proc.note("SIGCONT")
            end = rec.now()
            rec.say(f"        SIGCONT {proc.name} after {end - start:.1f}s")
        else:
            what = "and restart it empty" if kind == "redis_restart" else ""
            rec.say(f"fault: kill -9 {proc.name} (pid {proc.pid}){detail} {what}".rstrip())
            proc.note("kill -9")
            proc.kill9()
            await asyncio.sleep(self.opts.down if kind != "redis_restart" else 2.0)
            await self.cluster.restart(proc)
            end = rec.now()
            rec.say(f"        {proc.name} back (pid {proc.pid}) after {end - start:.1f}s")
        rec.faults.append(Fault(kind, proc.name, start, end))
        rec.fault_log.append(
            {
                "kind": kind,
                "target": proc.name,
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "wall_time": time.strftime("%H:%M:%S"),
                "note": detail.lstrip(", "),
            }
        )


# --- the run ----------------------------------------------------------------------------


async def _progress(rec: Recorder, total: float) -> None:
    last_acks, last_arrivals, last_t = 0, 0, rec.now()
    while True:
        await asyncio.sleep(0.5)
        now = rec.now()
        span = max(1e-6, now - last_t)
        rates = {
            "acked": (len(rec.acks) - last_acks) / span,
            "delivered": (len(rec.arrivals) - last_arrivals) / span,
        }
        last_acks, last_arrivals, last_t = len(rec.acks), len(rec.arrivals), now
        if rec.bar is not None:
            rec.bar.update(now, rec.phase, rates)


async def run_chaos(cluster: ChaosCluster, opts: ChaosOptions, run_id: str) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    t_setup = time.monotonic()
    await cluster.start()
    world = await build_world(cluster, run_id)
    await asyncio.gather(*(d.client.connect(timeout=30) for d in world.devices))
    setup_s = time.monotonic() - t_setup

    rec = Recorder(t0=time.monotonic())
    print(
        f"chaos: cluster up and {len(world.devices)} devices of {USERS} users connected in "
        f"{setup_s:.1f}s; logs in {cluster.log_dir}",
        file=sys.stderr,
    )
    rec.bar = Progress("chaos", opts.duration + opts.settle, enabled=opts.progress)
    tasks: list[asyncio.Task[Any]] = []
    tasks.append(asyncio.create_task(monitor(world.devices, world, rec)))
    tasks.extend(asyncio.create_task(consume(d, rec)) for d in world.devices)
    tasks.append(asyncio.create_task(_progress(rec, opts.duration + opts.settle)))
    end = TrafficEnd(opts.duration)
    specs = senders(world, opts)
    sending = [
        asyncio.create_task(
            run_sender(spec, world, cluster.api_urls, rec, end, random.Random(rng.random()))
        )
        for spec in specs
    ]
    faults = Faults(cluster, world, rec, opts, rng)
    injector = asyncio.create_task(faults.run(end))
    try:
        rec.phase = "warm-up"
        await injector
        rec.phase = "traffic"
        await asyncio.gather(*sending)
        rec.phase = "settle"
        base = world.members
        settle_until = rec.now() + opts.settle
        last_ack = max((a.acked_at for a in rec.acks), default=0.0)
        data = RunData(rec.acks, [], [], base, rec.faults, opts.late_after)
        data.devices = [DeviceRecord(d.name, world.user_ids[d.user]) for d in world.devices]
        missing = missing_count(data, rec.arrived)
        while rec.now() < settle_until:
            if missing == 0 and rec.now() >= last_ack + opts.late_after + 0.5:
                break
            await asyncio.sleep(1.0)
            missing = missing_count(data, rec.arrived)
        settled_s = rec.now() - end.at
    finally:
        injector.cancel()
        for task in sending:
            task.cancel()
        observe(world.devices, world, rec)
        close_links(world.devices, rec)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *sending, injector, return_exceptions=True)
        for device in world.devices:  # anything the consumer had not taken yet
            while device.client.pending_messages():
                record_arrival(device, await device.client.next_message(timeout=1), rec)
        for client in [*(d.client for d in world.devices), *world.http_clients.values()]:
            with contextlib.suppress(Exception):
                await client.close()
        if rec.bar is not None:
            rec.bar.close()

    data = RunData(
        acks=rec.acks,
        arrivals=rec.arrivals,
        devices=[
            DeviceRecord(d.name, world.user_ids[d.user], list(d.links)) for d in world.devices
        ],
        members=world.members,
        faults=rec.faults,
        late_after=opts.late_after,
    )
    result = check(data)
    dump_raw(cluster.scratch / "raw", data)
    return {
        "result": result,
        "world": world,
        "rec": rec,
        "specs": specs,
        "settled_s": settled_s,
        "traffic_s": end.at,
        "setup_s": setup_s,
        "missing_at_end": missing,
    }


# --- output -----------------------------------------------------------------------------


def dump_raw(folder: Path, data: RunData) -> None:
    """Everything the checker saw, one JSON object a line, to audit a verdict by hand."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (
        ("acks", [asdict(a) for a in data.acks]),
        ("arrivals", [asdict(a) for a in data.arrivals]),
        ("devices", [asdict(d) for d in data.devices]),
        ("faults", [asdict(f) for f in data.faults]),
    ):
        with (folder / f"{name}.jsonl").open("w") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    (folder / "members.json").write_text(json.dumps(data.members))


def summary(result: CheckResult, opts: ChaosOptions, outcome: dict[str, Any]) -> str:
    rec: Recorder = outcome["rec"]
    lat = result.latency
    rows = [
        (
            "messages acked",
            f"{result.acked:,}",
            f"{result.acked / outcome['traffic_s']:.1f}/s over {outcome['traffic_s']:.0f} s",
        ),
        ("deliveries due", f"{result.expected_deliveries:,}", "(message, device) pairs"),
        ("delivered", f"{result.delivered:,}", ""),
        ("LOST", f"{result.lost:,}", "never yielded by the end of the settle period"),
        ("DUPLICATED", f"{result.duplicated:,}", "a seq yielded twice"),
        ("REORDERED", f"{result.reordered:,}", "a lower seq yielded after a higher one"),
        (
            "LATE",
            f"{result.late:,}",
            f"> {opts.late_after:.0f}s after the ack on a continuously connected device "
            f"(of {result.late_checked:,} checked)",
        ),
        ("mismatched", f"{result.mismatched:,}", "another message under an acked seq"),
        ("unexpected", f"{result.unexpected:,}", "yielded by a device that should not get it"),
        ("ack seq reused", f"{result.seq_reused:,}", "two acks, one seq"),
        ("ack order", f"{result.ack_order:,}", "acked later but numbered earlier"),
        ("other arrivals", f"{result.unacked_arrivals:,}", "system tips, abandoned sends"),
    ]
    width = max(len(r[0]) for r in rows)
    wnum = max(len(r[1]) for r in rows)
    lines = ["check".ljust(width) + "  " + "count".rjust(wnum), "-" * width + "  " + "-" * wnum]
    lines += [f"{a.ljust(width)}  {b.rjust(wnum)}  {c}" for a, b, c in rows]
    lines.append("")
    lines.append(
        f"ack -> arrival, continuously connected devices: p50 {lat.p50_ms:.1f} ms, "
        f"p99 {lat.p99_ms:.1f} ms, max {lat.max_ms:.1f} ms (n={lat.count:,}); "
        f"all deliveries: max {result.latency_all.max_ms:.1f} ms"
    )
    target = "met" if lat.p99_ms <= P99_TARGET_MS else "NOT MET"
    lines.append(
        f"target p99 <= {P99_TARGET_MS / 1000:.0f} s from ack to arrival: {target} "
        f"(reported, not a pass/fail check: it depends on how loaded the machine is)"
    )
    faults = ", ".join(f"{k} {result.faults.get(k, 0)}" for k in FAULT_KINDS)
    lines.append(f"faults: {faults}")
    if result.late_by_fault:
        lines.append("late, by fault nearby: " + _counts(result.late_by_fault))
    if result.lost_by_fault:
        lines.append("lost, by fault nearby: " + _counts(result.lost_by_fault))
    names = {cid: name for name, cid in outcome["world"].conversations.items()}
    for what, counts in (
        ("late", result.late_by_conversation),
        ("lost", result.lost_by_conversation),
    ):
        if counts:
            named = {names.get(cid, str(cid)): n for cid, n in counts.items()}
            lines.append(f"{what}, by conversation: " + _counts(named))
    if rec.send_errors:
        lines.append("send retries: " + _counts(dict(rec.send_errors)))
    if rec.abandoned:
        lines.append(f"!!! sends never acknowledged within {GIVE_UP_S:.0f}s: {len(rec.abandoned)}")
    stuck = [e for d in outcome["world"].devices for e in (f"{d.name}: {x}" for x in d.events)]
    for line in stuck:
        lines.append(f"!!! {line}")
    lines.append("")
    lines.append(
        "CHAOS RUN " + ("PASSED" if result.ok else "FAILED: " + _counts(result.failures()))
    )
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def payload(opts: ChaosOptions, outcome: dict[str, Any], cluster: ChaosCluster) -> dict[str, Any]:
    result: CheckResult = outcome["result"]
    rec: Recorder = outcome["rec"]
    world: World = outcome["world"]
    return {
        "scenario": "chaos",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": git_commit(),
        "machine": machine(),
        "options": {**asdict(opts), "server_env": dict(opts.server_env)},
        "ok": result.ok,
        "check": result.to_dict(),
        "faults": rec.fault_log,
        "send_errors": dict(rec.send_errors),
        "abandoned_sends": rec.abandoned,
        "settle_s": round(outcome["settled_s"], 1),
        "traffic_s": round(outcome["traffic_s"], 1),
        "setup_s": round(outcome["setup_s"], 1),
        "senders": [
            {
                "name": s.name,
                "conversation": s.conversation,
                "rate": s.rate,
                "over": "ws" if s.device else "http",
            }
            for s in outcome["specs"]
        ],
        "conversations": world.conversations,
        "devices": [
            {
                "name": d.name,
                "user_id": world.user_ids[d.user],
                "home_gateway": d.home,
                "links": len(d.links),
                "reconnects": d.client.reconnects,
                "events": d.events,
            }
            for d in world.devices
        ],
        "cluster": cluster.describe(),
        "log": rec.log_lines,
    }


# --- command line -----------------------------------------------------------------------


def _rate(given: float | None, full: float, short: float, is_short: bool) -> float:
    """The short run (CI) sends at half the rates: the same faults and checks, sized so
    that the 2-core machine that also restarts the killed processes is not saturated."""
    if given is not None:
        return given
    return short if is_short else full


def add_chaos_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration", "-D", type=float, default=None, help="seconds of traffic (default 300)"
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help=f"about two minutes in all ({SHORT_DURATION_S:.0f} s of traffic), for CI",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="at most this long after the traffic for clients to catch up (default 30, --short 20)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="messages/s of each group sender (8 of them; default 3, --short 1.5)",
    )
    parser.add_argument(
        "--private-rate",
        type=float,
        default=None,
        help="messages/s of each private sender (8; default 2, --short 1)",
    )
    parser.add_argument(
        "--http-rate",
        type=float,
        default=None,
        help="messages/s of each HTTP sender (3; default 1.5, --short 0.75)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="fault order and targets, send jitter"
    )
    parser.add_argument("--gap", type=float, default=7.0, help="seconds of recovery between faults")
    parser.add_argument(
        "--down", type=float, default=3.0, help="seconds a killed process stays down"
    )
    parser.add_argument(
        "--stop-for", type=float, default=4.0, help="seconds a gateway stays SIGSTOPped"
    )
    parser.add_argument(
        "--late-after",
        type=float,
        default=5.0,
        help="a delivery later than this after its ack is late",
    )
    parser.add_argument(
        "--hot-threshold", type=int, default=30, help="PIGEON_MESSAGING__HOT_GROUP_THRESHOLD"
    )
    add_database_args(parser, "the run's database")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the JSON results (default bench/results/)",
    )


def chaos_options(args: argparse.Namespace) -> ChaosOptions:
    duration = (
        args.duration if args.duration is not None else (SHORT_DURATION_S if args.short else 300.0)
    )
    settle = args.settle if args.settle is not None else (SHORT_SETTLE_S if args.short else 30.0)
    if duration < 20:
        raise SystemExit("--duration must be at least 20 s")
    env = []
    for item in args.server_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--server-env wants KEY=VALUE, got {item!r}")
        env.append((key, value))
    return ChaosOptions(
        duration=duration,
        settle=settle,
        gap=args.gap,
        down=args.down,
        stop_for=args.stop_for,
        group_rate=_rate(args.rate, 3.0, 1.5, args.short),
        private_rate=_rate(args.private_rate, 2.0, 1.0, args.short),
        http_rate=_rate(args.http_rate, 1.5, 0.75, args.short),
        late_after=args.late_after,
        hot_threshold=args.hot_threshold,
        seed=args.seed if args.seed is not None else secrets.randbits(31),
        pg_url=args.pg_url,
        keep_db=args.keep_db,
        progress=not args.no_progress,
        server_env=tuple(env),
    )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(args: argparse.Namespace, scratch_dir: Path) -> tuple[int, bool]:
    """Run it; (exit code, whether to keep the scratch directory)."""
    opts = chaos_options(args)
    missing = missing_services(opts.pg_url)
    if missing:
        print(f"!!! chaos run impossible here: {missing}", file=sys.stderr)
        return 2, False
    run_id = secrets.token_hex(3)
    print(
        f"chaos run {run_id}: seed {opts.seed}, {opts.duration:.0f} s of traffic", file=sys.stderr
    )
    env = {
        "PIGEON_MESSAGING__HOT_GROUP_THRESHOLD": str(opts.hot_threshold),
        "PIGEON_MESSAGING__GROUP_INVITE_REQUIRES_FRIENDSHIP": "false",
        **dict(opts.server_env),
    }
    cluster = ChaosCluster(scratch_dir, pg_url=opts.pg_url, env=env, keep_db=opts.keep_db)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        outcome = asyncio.run(run_chaos(cluster, opts, run_id))
    except (ServerError, ChaosError, ApiError, httpx.HTTPError) as exc:
        print(f"\n!!! chaos run could not run: {exc!r}", file=sys.stderr)
        return 2, True
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the cluster", file=sys.stderr)
        return 130, True
    finally:
        signal.signal(signal.SIGTERM, previous)
        cluster.stop()
    result: CheckResult = outcome["result"]
    print()
    print(summary(result, opts, outcome))
    body = payload(opts, outcome, cluster)
    path = write_json("chaos", body, args.json)
    (scratch_dir / "result.json").write_text(json.dumps(body, indent=2) + "\n")
    print(f"\nresults written to {path}")
    if not result.ok:
        print(
            "!!! samples of each failure are in the JSON file under check.samples", file=sys.stderr
        )
        return 1, True
    return 0, False
