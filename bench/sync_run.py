"""``python -m bench sync``: one user comes back to 10,000 messages in 50 conversations.

Fifty peers (each a friend of the user) send 200 messages each over their sockets while
the user has none open. Then the user connects and syncs as docs/protocol.md says:
socket and ``hello``, ``GET /api/v1/conversations``, then, for every conversation whose
``last_seq`` is ahead, pages of ``sync`` (or ``GET .../messages?after=``, ``--pull``) from
its seq until ``has_more`` is false, all conversations at once. The figure is the time
from opening the socket to holding every message (target <= 1 s); every message must be
held exactly once, in seq order, with the seq of its ack. The Python SDK
(``pigeon.client``) is timed the same way as a second client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench import frames
from bench.accounts import PASSWORD, User, befriend, register_users

PAGE = 200


@dataclass
class SyncCheck:
    expected: int = 0
    held: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    seq_mismatch: int = 0  # held at another seq than its ack said
    unexpected: int = 0  # a message no peer sent (system tips are not counted)
    examples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.lost + self.duplicated + self.reordered + self.seq_mismatch + self.unexpected


async def _open(url: str, token: str) -> ClientConnection:
    ws = await connect(url, compression=None, proxy=None, max_size=2**24, ping_interval=None)
    await ws.send(frames.encode({"type": "auth", "token": token, "device": "web"}))
    hello = frames.decode(await asyncio.wait_for(ws.recv(), 60))
    if hello.get("type") != "hello":
        raise RuntimeError(f"expected hello, got {hello!r}")
    return ws


async def send_backlog(
    ws_url: str,
    peers: list[User],
    to: User,
    per_peer: int,
    run_id: int,
    on_ack: Callable[[], object],
    window: int = 10,
) -> dict[str, tuple[int, int]]:
    """Each peer sends ``per_peer`` texts to ``to``; client_msg_id -> (conversation, seq)."""
    acked: dict[str, tuple[int, int]] = {}

    async def peer(index: int, user: User) -> None:
        ws = await _open(ws_url, user.token)
        slots = asyncio.Semaphore(window)
        done = asyncio.Event()
        cmids = [frames.client_msg_id(run_id, index, n) for n in range(per_peer)]

        async def reader() -> None:
            count = 0
            async for raw in ws:
                frame = frames.decode(raw)
                if frame.get("type") == "ack":
                    acked[frame["client_msg_id"]] = (int(frame["conversation_id"]), frame["seq"])
                    on_ack()
                elif frame.get("type") == "error":
                    raise RuntimeError(f"peer {index}: {frame}")
                else:
                    continue
                slots.release()
                count += 1
                if count == per_peer:
                    done.set()
                    return

        task = asyncio.create_task(reader())
        for n, cmid in enumerate(cmids):
            await slots.acquire()
            text = frames.make_text(n, time.time_ns(), 64)
            await ws.send(
                frames.encode(
                    {
                        "type": "send",
                        "ref": str(n),
                        "client_msg_id": cmid,
                        "to_user_id": to.id,
                        "kind": "text",
                        "body": {"text": text},
                    }
                )
            )
        await asyncio.wait_for(done.wait(), 300)
        await task
        await ws.close()

    await asyncio.gather(*(peer(i, u) for i, u in enumerate(peers)))
    return acked


class SyncingClient:
    """The user's device, doing exactly the reconnect sync of docs/protocol.md."""

    def __init__(self, api: str, ws_url: str, user: User, pull: str) -> None:
        self.api, self.ws_url, self.user, self.pull = api, ws_url, user, pull
        self.held: dict[int, list[dict[str, Any]]] = {}
        self.seq: dict[int, int] = {}
        self.refs = 0
        self.replies: dict[str, asyncio.Future[Any]] = {}
        self.pages = 0

    async def run(self) -> float:
        """Seconds from opening the socket to holding everything."""
        headers = {"Authorization": f"Bearer {self.user.token}"}
        async with httpx.AsyncClient(
            base_url=f"{self.api}/api/v1", headers=headers, timeout=60
        ) as http:
            t0 = time.perf_counter()
            ws = await _open(self.ws_url, self.user.token)
            reader = asyncio.create_task(self.read(ws))
            listing = (await http.get("/conversations")).raise_for_status().json()
            pulls = []
            for conversation in listing["conversations"]:
                cid = int(conversation["id"])
                self.seq[cid] = int(conversation.get("visible_from_seq", 0))
                self.held[cid] = []
                if int(conversation["last_seq"]) > self.seq[cid]:
                    pulls.append(self.pull_all(cid, ws, http))
            await asyncio.gather(*pulls)
            elapsed = time.perf_counter() - t0
            reader.cancel()
            await ws.close()
        return elapsed

    async def pull_all(self, cid: int, ws: ClientConnection, http: httpx.AsyncClient) -> None:
        while True:
            after = self.seq[cid]
            if self.pull == "http":
                response = await http.get(
                    f"/conversations/{cid}/messages", params={"after": after, "limit": PAGE}
                )
                page = response.raise_for_status().json()
            else:
                page = await self.call(ws, cid, after)
            self.pages += 1
            for message in page["messages"]:
                self.held[cid].append(message)
                self.seq[cid] = max(self.seq[cid], int(message["seq"]))
            if not page["has_more"]:
                return

    async def call(self, ws: ClientConnection, cid: int, after: int) -> Any:
        self.refs += 1
        ref = f"s{self.refs}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.replies[ref] = future
        frame = {"type": "sync", "ref": ref, "conversation_id": cid, "after": after}
        await ws.send(frames.encode({**frame, "limit": PAGE}))
        reply = await asyncio.wait_for(future, 60)
        if reply.get("type") != "messages":
            raise RuntimeError(f"sync answered {reply!r}")
        return reply

    async def read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            frame = frames.decode(raw)
            future = self.replies.pop(str(frame.get("ref")), None)
            if future is not None:
                future.set_result(frame)


def check_held(
    held: dict[int, list[dict[str, Any]]], acked: dict[str, tuple[int, int]]
) -> SyncCheck:
    check = SyncCheck(expected=len(acked))
    seen: dict[str, int] = {}
    for cid, messages in held.items():
        previous = 0
        for message in messages:
            seq, cmid = int(message["seq"]), message.get("client_msg_id")
            if seq <= previous:
                check.reordered += 1
            previous = max(previous, seq)
            if message.get("sender_id") is None:
                continue  # a system tip
            if cmid not in acked:
                check.unexpected += 1
                continue
            check.held += 1
            if cmid in seen:
                check.duplicated += 1
                continue
            seen[str(cmid)] = seq
            if acked[str(cmid)] != (cid, seq):
                check.seq_mismatch += 1
                if check.seq_mismatch == 1:
                    check.examples.append(f"{cmid}: held at {(cid, seq)}, acked {acked[cmid]}")
    check.lost = len(set(acked) - set(seen))
    if check.lost:
        check.examples.append(f"{check.lost} acked messages never held")
    return check


async def sdk_sync(api: str, user: User, expected: int) -> tuple[float, int]:
    """The same reconnect with the Python SDK: seconds from connect() to holding all."""
    from pigeon.client import PigeonClient

    client = PigeonClient(api, device="web")
    try:
        await client.login(user.username, PASSWORD)
        t0 = time.perf_counter()
        await client.connect(timeout=120)
        while sum(len(m) for m in client.messages.values()) < expected:
            if time.perf_counter() - t0 > 120:
                break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        held = sum(
            1 for ms in client.messages.values() for m in ms if m.get("sender_id") is not None
        )
    finally:
        await client.close()
    return elapsed, held


async def prepare(api: str, conversations: int, run_id: int) -> tuple[User, list[User], str]:
    users = await register_users(api, conversations + 1, run_id, concurrency=16)
    user, peers = users[0], users[1:]
    friendship = await befriend(api, [(peer, user) for peer in peers])
    return user, peers, friendship
