"""The fan-out queue as one Redis Stream with a consumer group of workers.

``P:fanout`` holds one entry per publication. Workers read with ``XREADGROUP`` and hand
the entries on in chunks of ``CHUNK``, acknowledging (``XACK`` + ``XDEL``) each chunk once
it was handed to the gateway queues; every ``CLAIM_EVERY_S`` a worker also claims
(``XAUTOCLAIM``) entries another consumer took more than ``redis.fanout_claim_idle_s`` ago
and never acknowledged (it died or was stopped). A worker still busy with a long read
resets the idle time of what it holds (``XCLAIM ... JUSTID``), so it keeps its entries.
The stream or its group gone (Redis restarted empty): the group is made again, and the
database's hand-off rows bring back what was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

import structlog
from redis.exceptions import ResponseError

from pigeon.bus.publication import Publication, decode_publication, encode_publication
from pigeon.common.settings import RedisSettings

log = structlog.get_logger(__name__)

GROUP = "fanout"
BLOCK_MS = 500
CLAIM_EVERY_S = 0.5
CHUNK = 25
MAX_DELIVERIES = 5


class RedisFanoutQueue:
    """:class:`pigeon.bus.fanout_queue.FanoutQueue` on a Redis Stream."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.settings = settings
        self.key = f"{settings.key_prefix}:fanout"
        self.claim_idle_ms = int(settings.fanout_claim_idle_s * 1000)

    async def push(self, publications: list[Publication]) -> None:
        if not publications:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for publication in publications:
                pipe.xadd(
                    self.key,
                    {"p": encode_publication(publication)},
                    maxlen=self.settings.fanout_maxlen,
                    approximate=True,
                )
            await pipe.execute()

    async def backlog(self) -> int:
        return int(await self.client.xlen(self.key))

    async def oldest_ms(self) -> int | None:
        first = await self.client.xrange(self.key, "-", "+", count=1)
        if not first:
            return None
        return _id_order(_entry_id(first[0][0]))[0]

    async def _ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _forget_dead_consumers(self, consumer: str) -> None:
        """Consumers of workers long gone, holding nothing: out of the group's list."""
        for info in await self.client.xinfo_consumers(self.key, GROUP):
            name = info["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name != consumer and not info.get("pending") and info.get("idle", 0) > 600_000:
                await self.client.xgroup_delconsumer(self.key, GROUP, name)

    async def _claim(self, consumer: str) -> list[tuple[Any, Any]]:
        reply = await self.client.xautoclaim(
            self.key, GROUP, consumer, self.claim_idle_ms, "0-0", count=CHUNK * 4
        )
        claimed = [(entry_id, fields) for entry_id, fields in reply[1] if fields]
        return await self._drop_poison(claimed)

    async def _drop_poison(self, claimed: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        """Entries handed out ``MAX_DELIVERIES`` times without ever being finished fail
        every worker: drop them rather than stall the stream (a message among them is
        still brought back by its hand-off row, at the hand-off worker's slower pace)."""
        if not claimed:
            return claimed
        ids = sorted((_entry_id(entry_id) for entry_id, _ in claimed), key=_id_order)
        pending = await self.client.xpending_range(
            self.key, GROUP, min=ids[0], max=ids[-1], count=len(ids) + CHUNK
        )
        poison = {
            _entry_id(p["message_id"]) for p in pending if p["times_delivered"] > MAX_DELIVERIES
        }
        if not poison:
            return claimed
        log.error("fanout_entries_dropped", entries=len(poison), deliveries=MAX_DELIVERIES)
        await self._finish([(entry_id, None) for entry_id in sorted(poison)])
        return [(e, fields) for e, fields in claimed if _entry_id(e) not in poison]

    async def _read(self, consumer: str) -> list[tuple[Any, Any]]:
        try:
            reply = await self.client.xreadgroup(
                GROUP, consumer, {self.key: ">"}, count=self.settings.queue_batch, block=BLOCK_MS
            )
        except ResponseError as exc:
            # NOGROUP, or the key vanished under a blocked read: Redis lost its data.
            log.warning("fanout_group_lost", error=str(exc))
            await asyncio.sleep(0.1)
            await self._ensure_group()
            return []
        return list(reply[0][1]) if reply else []

    async def _keep(self, consumer: str, entries: list[tuple[Any, Any]]) -> None:
        """Still ours: reset the idle time of entries waiting in this consumer's hands, so
        that a slow batch is not taken for the batch of a dead worker."""
        if entries:
            ids = [entry_id for entry_id, _ in entries]
            await self.client.xclaim(self.key, GROUP, consumer, 0, ids, justid=True)

    async def _finish(self, entries: list[tuple[Any, Any]]) -> None:
        if not entries:
            return
        ids = [entry_id for entry_id, _ in entries]
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(self.key, GROUP, *ids)
            pipe.xdel(self.key, *ids)
            await pipe.execute()

    async def consume(self, consumer: str) -> AsyncGenerator[list[Publication], None]:
        await self._ensure_group()
        with contextlib.suppress(ResponseError):
            await self._forget_dead_consumers(consumer)
        next_claim = 0.0
        while True:
            entries: list[tuple[Any, Any]] = []
            if time.monotonic() >= next_claim:
                next_claim = time.monotonic() + CLAIM_EVERY_S
                entries = await self._claim(consumer)
                if entries:
                    log.info("fanout_claimed_abandoned", entries=len(entries))
            if not entries:
                entries = await self._read(consumer)
            taken = time.monotonic()
            # Small batches, each acknowledged when done; the rest kept fresh meanwhile.
            for start in range(0, len(entries), CHUNK):
                chunk = entries[start : start + CHUNK]
                if time.monotonic() - taken > self.claim_idle_ms / 2000:
                    await self._keep(consumer, entries[start:])
                    taken = time.monotonic()
                batch = _decode(chunk)
                if batch:
                    yield batch
                await self._finish(chunk)


def _entry_id(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _decode(entries: list[tuple[Any, Any]]) -> list[Publication]:
    batch: list[Publication] = []
    for _entry_id, fields in entries:
        data = fields.get(b"p") or fields.get("p")
        if data is None:
            continue
        try:
            batch.append(decode_publication(data))
        except Exception:
            log.exception("fanout_entry_undecodable")
    return batch
