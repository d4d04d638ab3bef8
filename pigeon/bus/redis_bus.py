"""Connecting the cluster bus: one Redis client shared by the registry and the queues."""

from __future__ import annotations

from typing import Any

import structlog

from pigeon.bus.redis_queue import RedisQueue
from pigeon.bus.redis_registry import RedisRegistry
from pigeon.common.settings import Settings

log = structlog.get_logger(__name__)


class RedisCloser:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:
            return False


def redis_client(settings: Settings) -> Any:
    """A client for one Redis or (``redis.cluster``) a Redis Cluster."""
    options: dict[str, Any] = {
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 15,
    }
    if settings.redis.cluster:
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url(settings.redis.url, **options)
    from redis.asyncio import Redis

    return Redis.from_url(settings.redis.url, retry_on_timeout=True, **options)


async def connect_redis_bus(settings: Settings) -> tuple[RedisRegistry, RedisQueue, RedisCloser]:
    """The registry and queues on Redis, and what closes their connections."""
    client = redis_client(settings)
    try:
        await client.ping()
    except Exception as exc:
        # Start anyway: every user of Redis retries, and /readyz reports it.
        log.warning("redis_unreachable_at_start", error=str(exc))
    return (
        RedisRegistry(client, settings.redis),
        RedisQueue(client, settings.redis),
        RedisCloser(client),
    )
