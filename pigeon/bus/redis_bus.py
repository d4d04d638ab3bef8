"""Connecting the cluster bus: one Redis client shared by every part of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from pigeon.bus.redis_connections import RedisConnections
from pigeon.bus.redis_fanout import RedisFanoutQueue
from pigeon.bus.redis_gateways import RedisGatewayDirectory
from pigeon.bus.redis_limits import RedisLimiter
from pigeon.bus.redis_notices import RedisNoticeBook
from pigeon.bus.redis_presence import RedisPresenceBook
from pigeon.bus.redis_queue import RedisQueue
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


@dataclass
class RedisBus:
    """Every part of the cluster bus, on one shared Redis client."""

    connections: RedisConnections
    presence: RedisPresenceBook
    directory: RedisGatewayDirectory
    notices: RedisNoticeBook
    queue: RedisQueue
    fanout: RedisFanoutQueue
    limiter: RedisLimiter
    closer: RedisCloser


async def connect_redis_bus(settings: Settings) -> RedisBus:
    """The registry's parts, the notice book and the queues on Redis."""
    client = redis_client(settings)
    try:
        await client.ping()
    except Exception as exc:
        # Start anyway: every user of Redis retries, and /readyz reports it.
        log.warning("redis_unreachable_at_start", error=str(exc))
    r = settings.redis
    return RedisBus(
        connections=RedisConnections(client, r),
        presence=RedisPresenceBook(client, r),
        directory=RedisGatewayDirectory(client, r),
        notices=RedisNoticeBook(client, r),
        queue=RedisQueue(client, r),
        fanout=RedisFanoutQueue(client, r),
        limiter=RedisLimiter(client, r),
        closer=RedisCloser(client),
    )
