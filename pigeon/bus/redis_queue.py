"""Each gateway's delivery queue as a Redis Stream with a consumer group.

``P:unread:{<gateway>}`` (the seed's ``im:unread:${serverId}``; the braces are the Redis
Cluster hash tag). Publishers ``XADD`` with approximate ``MAXLEN`` trimming and refresh the
key's expiry, so the queue of a gateway that died cannot grow or live forever. The gateway
reads with ``XREADGROUP``, and acknowledges (``XACK`` + ``XDEL``) a batch only after it has
handed it to its local sockets; entries a crashed incarnation had taken are claimed again
(``XAUTOCLAIM``) when a gateway starts with the same id. Redis gone or flushed: the
consumer recreates its group and carries on; what was lost is found by seq sync.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from redis.exceptions import ResponseError

from pigeon.bus.delivery import Delivery, decode_delivery, encode_delivery
from pigeon.bus.redis_keys import RedisKeys
from pigeon.common.settings import RedisSettings

log = structlog.get_logger(__name__)

GROUP = "gateway"
BLOCK_MS = 1000


class RedisQueue:
    """:class:`pigeon.bus.queue.DeliveryQueue` on Redis Streams."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.settings = settings
        self.keys = RedisKeys(settings.key_prefix)
        self.expire_ms = int(settings.queue_expire_s * 1000)
        # One consumer name per process incarnation; older ones are claimed from and removed.
        self.incarnation = secrets.token_hex(4)

    async def push(self, gateway_id: str, delivery: Delivery) -> None:
        await self.push_many([(gateway_id, delivery)])

    async def push_many(self, entries: Sequence[tuple[str, Delivery]]) -> None:
        """One round trip for the whole batch."""
        if not entries:
            return
        keys: dict[str, None] = {}
        async with self.client.pipeline(transaction=False) as pipe:
            for gateway_id, delivery in entries:
                key = self.keys.unread(gateway_id)
                keys[key] = None
                pipe.xadd(
                    key,
                    {"d": encode_delivery(delivery)},
                    maxlen=self.settings.queue_maxlen,
                    approximate=True,
                )
            for key in keys:
                pipe.pexpire(key, self.expire_ms)
            await pipe.execute()

    async def length(self, gateway_id: str) -> int:
        return int(await self.client.xlen(self.keys.unread(gateway_id)))

    async def discard(self, gateway_id: str) -> None:
        await self.client.delete(self.keys.unread(gateway_id))

    async def _ensure_group(self, key: str) -> None:
        try:
            # From the start of the stream: entries queued while no group existed (the
            # gateway was down, or Redis was flushed) are still delivered.
            await self.client.xgroup_create(key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        await self.client.pexpire(key, self.expire_ms)

    async def _claim_abandoned(self, key: str, consumer: str) -> list[tuple[bytes, Any]]:
        """Entries earlier incarnations took but never acknowledged; forget those consumers."""
        claimed: list[tuple[bytes, Any]] = []
        start = "0-0"
        while True:
            reply = await self.client.xautoclaim(key, GROUP, consumer, 0, start, count=500)
            start, entries = reply[0], reply[1]
            claimed += [(entry_id, fields) for entry_id, fields in entries if fields]
            if start in (b"0-0", "0-0"):
                break
        for info in await self.client.xinfo_consumers(key, GROUP):
            name = info["name"]
            name = name.decode() if isinstance(name, bytes) else name
            if name != consumer and info.get("pending", 0) == 0:
                await self.client.xgroup_delconsumer(key, GROUP, name)
        return claimed

    async def _finish(self, key: str, ids: list[Any]) -> None:
        if not ids:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(key, GROUP, *ids)
            pipe.xdel(key, *ids)
            await pipe.execute()

    async def consume(self, gateway_id: str) -> AsyncIterator[Delivery]:
        key = self.keys.unread(gateway_id)
        consumer = f"{gateway_id}.{self.incarnation}"
        await self._ensure_group(key)
        batch = await self._claim_abandoned(key, consumer)
        if batch:
            log.info("queue_claimed_abandoned", gateway_id=gateway_id, entries=len(batch))
        while True:
            if not batch:
                try:
                    reply = await self.client.xreadgroup(
                        GROUP,
                        consumer,
                        {key: ">"},
                        count=self.settings.queue_batch,
                        block=BLOCK_MS,
                    )
                except ResponseError as exc:
                    # NOGROUP, or "the stream key no longer exists" for a blocked read:
                    # Redis was flushed or the key expired. Start over with a new group.
                    log.warning("queue_group_lost", gateway_id=gateway_id, error=str(exc))
                    await asyncio.sleep(0.1)
                    await self._ensure_group(key)
                    continue
                if not reply:
                    continue
                batch = list(reply[0][1])
            ids = []
            for entry_id, fields in batch:
                ids.append(entry_id)
                data = fields.get(b"d") if fields else None
                if data is None:
                    continue
                try:
                    delivery = decode_delivery(data)
                except Exception:
                    log.exception("queue_entry_undecodable", gateway_id=gateway_id)
                    continue
                yield delivery
            batch = []
            # Everything of the batch reached the local sockets' outbound queues.
            await self._finish(key, ids)
            await asyncio.sleep(0)
