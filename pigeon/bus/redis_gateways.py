"""The gateway directory on Redis: live gateways with URL and load, for discovery and
for sweeping the dead ones."""

from __future__ import annotations

from typing import Any

from pigeon.bus.redis_keys import RedisKeys, text
from pigeon.bus.registry import GatewayInfo
from pigeon.common.clock import now_ms
from pigeon.common.settings import RedisSettings

SWEEP_LOCK_MS = 60_000


class RedisGatewayDirectory:
    """:class:`pigeon.bus.registry.GatewayDirectory` on one Redis or a Redis Cluster."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.settings = settings
        self.keys = RedisKeys(settings.key_prefix)
        self.gateway_ttl_ms = int(settings.gateway_ttl_s * 1000)

    async def report_gateway(self, info: GatewayInfo) -> bool:
        now = now_ms()
        key = self.keys.gateway(info.gateway_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.gateways, {info.gateway_id: now})
            pipe.hset(
                key,
                mapping={
                    "url": info.url,
                    "connections": info.connections,
                    "heartbeat": now,
                },
            )
            pipe.pexpire(key, self.gateway_ttl_ms * 3)
            # A live gateway's queue never expires, however quiet it is.
            pipe.pexpire(
                self.keys.unread(info.gateway_id), int(self.settings.queue_expire_s * 1000)
            )
            added, *_ = await pipe.execute()
        return bool(added)

    async def remove_gateway(self, gateway_id: str) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zrem(self.keys.gateways, gateway_id)
            pipe.delete(self.keys.gateway(gateway_id))
            await pipe.execute()

    async def live_gateways(self) -> list[GatewayInfo]:
        now = now_ms()
        ids = [
            text(g)
            for g in await self.client.zrangebyscore(
                self.keys.gateways, now - self.gateway_ttl_ms, "+inf"
            )
        ]
        if not ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for gateway_id in ids:
                pipe.hgetall(self.keys.gateway(gateway_id))
            rows = await pipe.execute()
        live = []
        for gateway_id, row in zip(ids, rows, strict=True):
            fields = {text(k): text(v) for k, v in row.items()}
            if "url" not in fields:
                continue
            live.append(
                GatewayInfo(
                    gateway_id=gateway_id,
                    url=fields["url"],
                    connections=int(fields.get("connections", "0")),
                    heartbeat_ms=int(fields.get("heartbeat", "0")),
                )
            )
        return live

    async def _alive(self, gateway_id: str) -> bool:
        score = await self.client.zscore(self.keys.gateways, gateway_id)
        return score is not None and float(score) >= now_ms() - self.gateway_ttl_ms

    async def dead_gateways(self) -> list[str]:
        cutoff = now_ms() - self.gateway_ttl_ms
        found = await self.client.zrangebyscore(self.keys.gateways, "-inf", f"({cutoff}")
        return [text(g) for g in found]

    async def is_alive(self, gateway_id: str) -> bool:
        return await self._alive(gateway_id)

    async def lock_sweep(self, gateway_id: str) -> bool:
        """Take the right to sweep a gateway that is still dead (False: alive, or taken)."""
        if await self._alive(gateway_id):
            return False
        lock = self.keys.sweep_lock(gateway_id)
        return bool(await self.client.set(lock, "1", nx=True, px=SWEEP_LOCK_MS))

    async def unlock_sweep(self, gateway_id: str) -> None:
        await self.client.delete(self.keys.sweep_lock(gateway_id))

    async def forget(self, gateway_id: str) -> None:
        """A swept gateway: drop its directory entry."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.gateway(gateway_id))
            pipe.zrem(self.keys.gateways, gateway_id)
            await pipe.execute()
