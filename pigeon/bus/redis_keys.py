"""Redis keys, value formats and script helpers shared by the cluster's Redis classes.

Keys (``P`` is ``redis.key_prefix``; the part in braces is the Redis Cluster hash tag, so
every script touches keys of one slot only)::

    P:conn:{<user>}      hash  connection -> "<gateway> <device> <kind> <expires ms>"  connections
    P:gwusers:{<gw>}     zset  users with a connection on that gateway            connections
    P:pres:{<user>}      string  device kinds last announced to friends ("mobile,web")  presence
    P:plock:{<user>}     string  held while one process settles that user          presence
    P:presence:dirty     zset  user -> when their presence is due to be settled     presence
    P:gw:{<gw>}          hash  url, connections, heartbeat of one gateway           gateways
    P:gateways           zset  gateway id -> last heartbeat ms                     gateways
    P:sweep:{<gw>}       string  lock of the worker sweeping a dead gateway         gateways
    P:unread:{<gw>}      stream  the gateway's delivery queue                       redis_queue
    P:fanout             stream  publications for the fan-out workers              redis_fanout
    P:stubs:{<conv>}     hash  hot-group read stubs                                 redis_notices
    P:limit:{<hash>}     string  attempts in a rate-limit window (expires with it)  redis_limits

Everything here can be rebuilt: gateways re-register their sockets when Redis lost them,
sequence numbers and hand-offs live in the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pigeon.bus.delivery import Location

CHUNK = 500


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_value(location: Location, expires_ms: int) -> str:
    """A ``conn`` hash value (the field is the connection id)."""
    return f"{location.gateway_id} {location.device} {location.kind} {expires_ms}"


def parse_entry(connection_id: str, value: Any) -> tuple[Location, int] | None:
    """A ``conn`` hash field and value: the location and its expiry (ms)."""
    parts = text(value).split(" ")
    if len(parts) != 4:
        return None
    return Location(parts[0], parts[1], connection_id, parts[2]), int(parts[3])


class RedisKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.gateways = f"{prefix}:gateways"
        self.dirty = f"{prefix}:presence:dirty"

    def conn(self, user_id: int) -> str:
        return f"{self.prefix}:conn:{{{user_id}}}"

    def presence(self, user_id: int) -> str:
        return f"{self.prefix}:pres:{{{user_id}}}"

    def presence_lock(self, user_id: int) -> str:
        return f"{self.prefix}:plock:{{{user_id}}}"

    def gateway_users(self, gateway_id: str) -> str:
        return f"{self.prefix}:gwusers:{{{gateway_id}}}"

    def gateway(self, gateway_id: str) -> str:
        return f"{self.prefix}:gw:{{{gateway_id}}}"

    def unread(self, gateway_id: str) -> str:
        """The gateway's delivery queue: the seed's ``im:unread:${serverId}``."""
        return f"{self.prefix}:unread:{{{gateway_id}}}"

    def sweep_lock(self, gateway_id: str) -> str:
        return f"{self.prefix}:sweep:{{{gateway_id}}}"


async def eval_many(
    client: Any, cluster: bool, script: Any, calls: list[tuple[list[str], list[Any]]]
) -> list[Any]:
    """Run one script for many keys: pipelined on one Redis, concurrently on a cluster
    (Redis Cluster clients refuse scripts in pipelines)."""
    results: list[Any] = []
    for start in range(0, len(calls), CHUNK):
        chunk = calls[start : start + CHUNK]
        if cluster:
            results += await asyncio.gather(*(script(keys=k, args=a) for k, a in chunk))
            continue
        async with client.pipeline(transaction=False) as pipe:
            for keys, args in chunk:
                await script(keys=keys, args=args, client=pipe)
            results += await pipe.execute()
    return results
