"""The connection registry, presence bookkeeping and gateway directory on Redis.

Keys (``P`` is ``redis.key_prefix``; the part in braces is the Redis Cluster hash tag, so
every script touches keys of one slot only)::

    P:conn:{<user>}      hash  device -> "<gateway> <connection> <expires ms>"
    P:pres:{<user>}      string  devices last announced to friends ("web,mobile"); absent: offline
    P:plock:{<user>}     string  held while one process settles and announces that user
    P:gwusers:{<gw>}     zset  users with a connection on that gateway, scored by last refresh
    P:gw:{<gw>}          hash  url, connections, heartbeat of one gateway (expires)
    P:gateways           zset  gateway id -> last heartbeat ms (liveness and discovery)
    P:presence:dirty     zset  user -> when their presence is due to be settled
    P:sweep:{<gw>}       string  lock of the worker sweeping a dead gateway
    P:hot:{<conv>}       set   members of a hot group holding a notice they have not
                               pulled after (one notice until they pull)

Everything here can be rebuilt: gateways re-register their sockets when Redis lost them,
and sequence numbers live in the database.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from typing import Any

import structlog

from pigeon.bus.delivery import Location
from pigeon.bus.registry import GatewayInfo, RefreshResult
from pigeon.common.clock import now_ms
from pigeon.common.settings import RedisSettings

log = structlog.get_logger(__name__)

CHUNK = 500
PRESENCE_TTL_MS = 7 * 24 * 3600 * 1000

# KEYS[1] hot-group notice set; ARGV ttl ms, user ids -> the ids that were not in the set
_CLAIM_NOTICES = """
local fresh = {}
for i = 2, #ARGV do
    if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then table.insert(fresh, ARGV[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return fresh
"""
NOTICE_TTL_MS = 24 * 3600 * 1000

# KEYS[1] conn hash; ARGV device, value, key ttl ms, now ms -> previous live value or false
_REGISTER = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if prev then
  local e = tonumber(string.match(prev, '(%d+)$'))
  if e and e > tonumber(ARGV[4]) then return prev end
end
return false
"""

# KEYS[1] conn hash; ARGV device, gateway, connection -> 1 if removed
_UNREGISTER = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local g, c = string.match(v, '^(%S+) (%S+)')
if g == ARGV[2] and c == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# KEYS[1] conn hash; ARGV device, gateway, connection, expires, key ttl, now
# -> 0 refreshed, 1 re-created (was missing or expired), -1 replaced by another live one
_REFRESH = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local created = 1
if v then
  local g, c, e = string.match(v, '^(%S+) (%S+) (%d+)')
  if g == ARGV[2] and c == ARGV[3] then
    created = 0
  elseif e and tonumber(e) > tonumber(ARGV[6]) then
    return -1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return created
"""

# KEYS[1] conn hash; ARGV gateway -> number of entries of that gateway removed
_DROP_GATEWAY = """
local h = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #h, 2 do
  local g = string.match(h[i + 1], '^(%S+)')
  if g == ARGV[1] then
    redis.call('HDEL', KEYS[1], h[i])
    n = n + 1
  end
end
return n
"""

# KEYS[1] conn hash, KEYS[2] presence key (same slot); ARGV now, presence ttl
# -> '+devices' when it changed (and is now recorded), false when it did not
_SETTLE = """
local h = redis.call('HGETALL', KEYS[1])
local devices = {}
for i = 1, #h, 2 do
  local e = tonumber(string.match(h[i + 1], '(%d+)$'))
  if e and e > tonumber(ARGV[1]) then table.insert(devices, h[i]) end
end
table.sort(devices)
local current = table.concat(devices, ',')
local previous = redis.call('GET', KEYS[2]) or ''
if current == previous then return false end
if current == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], current, 'PX', ARGV[2])
end
return '+' .. current
"""

# KEYS[1] dirty zset; ARGV now, lease until, limit -> due members, now leased
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], m) end
return due
"""

# KEYS[1] dirty zset; ARGV lease, members... -> remove members still at that lease
_RELEASE = """
local n = 0
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(device: str, value: Any) -> tuple[Location, int] | None:
    parts = _text(value).split(" ")
    if len(parts) != 3:
        return None
    return Location(parts[0], device, parts[1]), int(parts[2])


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

    def noticed(self, conversation_id: int) -> str:
        return f"{self.prefix}:hot:{{{conversation_id}}}"


class RedisRegistry:
    """:class:`pigeon.bus.registry.Registry` on one Redis or a Redis Cluster."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.settings = settings
        self.keys = RedisKeys(settings.key_prefix)
        # Redis Cluster clients refuse scripts in pipelines: run those side by side instead.
        self.cluster = settings.cluster
        self.ttl_ms = int(settings.registry_ttl_s * 1000)
        self.gateway_ttl_ms = int(settings.gateway_ttl_s * 1000)
        self._register = client.register_script(_REGISTER)
        self._unregister = client.register_script(_UNREGISTER)
        self._refresh = client.register_script(_REFRESH)
        self._drop_gateway = client.register_script(_DROP_GATEWAY)
        self._settle = client.register_script(_SETTLE)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._claim_notices = client.register_script(_CLAIM_NOTICES)
        self._leases: dict[int, int] = {}

    async def _eval_many(self, script: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run one script for many keys: pipelined on one Redis, concurrently on a cluster."""
        results: list[Any] = []
        for start in range(0, len(calls), CHUNK):
            chunk = calls[start : start + CHUNK]
            if self.cluster:
                results += await asyncio.gather(*(script(keys=k, args=a) for k, a in chunk))
                continue
            async with self.client.pipeline(transaction=False) as pipe:
                for keys, args in chunk:
                    await script(keys=keys, args=args, client=pipe)
                results += await pipe.execute()
        return results

    # --- connections --------------------------------------------------------------------

    def _value(self, location: Location, now: int) -> str:
        return f"{location.gateway_id} {location.connection_id} {now + self.ttl_ms}"

    async def register(self, user_id: int, location: Location) -> Location | None:
        now = now_ms()
        previous, _ = await asyncio.gather(
            self._register(
                keys=[self.keys.conn(user_id)],
                args=[location.device, self._value(location, now), self.ttl_ms, now],
            ),
            self.client.zadd(self.keys.gateway_users(location.gateway_id), {str(user_id): now}),
        )
        if not previous:
            return None
        parsed = _parse(location.device, previous)
        return parsed[0] if parsed is not None else None

    async def unregister(self, user_id: int, location: Location) -> bool:
        removed = await self._unregister(
            keys=[self.keys.conn(user_id)],
            args=[location.device, location.gateway_id, location.connection_id],
        )
        return bool(removed)

    async def refresh(self, entries: list[tuple[int, Location]]) -> RefreshResult:
        result = RefreshResult()
        now = now_ms()
        by_gateway: dict[str, dict[str, int]] = defaultdict(dict)
        calls = []
        for user_id, location in entries:
            args = [
                location.device,
                location.gateway_id,
                location.connection_id,
                now + self.ttl_ms,
                self.ttl_ms,
                now,
            ]
            calls.append(([self.keys.conn(user_id)], args))
            by_gateway[location.gateway_id][str(user_id)] = now
        outcomes = await self._eval_many(self._refresh, calls)
        for (user_id, location), outcome in zip(entries, outcomes, strict=True):
            if outcome == 1:
                result.recreated.append(user_id)
            elif outcome == -1:
                result.superseded.append((user_id, location))
        async with self.client.pipeline(transaction=False) as pipe:
            for gateway_id, users in by_gateway.items():
                key = self.keys.gateway_users(gateway_id)
                pipe.zadd(key, users)
                pipe.zremrangebyscore(key, "-inf", now - self.ttl_ms)
            await pipe.execute()
        return result

    async def _entries(self, user_ids: list[int]) -> dict[int, list[Location]]:
        found: dict[int, list[Location]] = {}
        now = now_ms()
        for start in range(0, len(user_ids), CHUNK):
            chunk = user_ids[start : start + CHUNK]
            async with self.client.pipeline(transaction=False) as pipe:
                for user_id in chunk:
                    pipe.hgetall(self.keys.conn(user_id))
                rows = await pipe.execute()
            for user_id, row in zip(chunk, rows, strict=True):
                live = []
                for device, value in row.items():
                    parsed = _parse(_text(device), value)
                    if parsed is not None and parsed[1] > now:
                        live.append(parsed[0])
                if live:
                    found[user_id] = live
        return found

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for user_id, locations in (await self._entries(user_ids)).items():
            for gateway_id in dict.fromkeys(loc.gateway_id for loc in locations):
                found[gateway_id].append(user_id)
        return dict(found)

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        return {
            user_id: sorted({loc.device for loc in locations})
            for user_id, locations in (await self._entries(user_ids)).items()
        }

    # --- presence -----------------------------------------------------------------------

    async def mark_presence_dirty(self, user_ids: list[int], delay_s: float) -> None:
        if not user_ids:
            return
        due = now_ms() + int(delay_s * 1000)
        # LT: an earlier mark wins (coalescing flaps); a claimed user's lease lies in the
        # future, so a new mark replaces it and the user is settled once more.
        await self.client.zadd(self.keys.dirty, {str(uid): due for uid in user_ids}, lt=True)

    async def claim_presence_dirty(self, limit: int, lease_s: float) -> list[int]:
        now = now_ms()
        lease = now + int(lease_s * 1000) + random.randint(0, 999)  # noqa: S311
        due = await self._claim(keys=[self.keys.dirty], args=[now, lease, limit])
        claimed = [int(_text(m)) for m in due]
        for user_id in claimed:
            self._leases[user_id] = lease
        return claimed

    async def release_presence_dirty(self, user_ids: list[int]) -> None:
        by_lease: dict[int, list[int]] = defaultdict(list)
        for user_id in user_ids:
            lease = self._leases.pop(user_id, None)
            if lease is not None:
                by_lease[lease].append(user_id)
        for lease, users in by_lease.items():
            await self._release(keys=[self.keys.dirty], args=[lease, *users])

    async def lock_presence(self, user_id: int, ttl_s: float) -> bool:
        key = self.keys.presence_lock(user_id)
        return bool(await self.client.set(key, "1", nx=True, px=int(ttl_s * 1000)))

    async def unlock_presence(self, user_id: int) -> None:
        await self.client.delete(self.keys.presence_lock(user_id))

    async def settle_presence(self, user_id: int) -> list[str] | None:
        changed = await self._settle(
            keys=[self.keys.conn(user_id), self.keys.presence(user_id)],
            args=[now_ms(), PRESENCE_TTL_MS],
        )
        if not changed:
            return None
        text = _text(changed)[1:]
        return text.split(",") if text else []

    # --- gateways -----------------------------------------------------------------------

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
            pipe.delete(self.keys.gateway_users(gateway_id))
            await pipe.execute()

    async def live_gateways(self) -> list[GatewayInfo]:
        now = now_ms()
        ids = [
            _text(g)
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
            fields = {_text(k): _text(v) for k, v in row.items()}
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
        return [_text(g) for g in found]

    async def sweep_gateway(self, gateway_id: str) -> list[int] | None:
        if await self._alive(gateway_id):
            return None
        lock = self.keys.sweep_lock(gateway_id)
        if not await self.client.set(lock, "1", nx=True, px=60_000):
            return None
        started = time.monotonic()
        users_key = self.keys.gateway_users(gateway_id)
        removed: list[int] = []
        try:
            cursor = 0
            while True:
                cursor, members = await self.client.zscan(users_key, cursor, count=CHUNK)
                user_ids = [int(_text(m)) for m, _score in members]
                if user_ids:
                    counts = await self._eval_many(
                        self._drop_gateway,
                        [([self.keys.conn(user_id)], [gateway_id]) for user_id in user_ids],
                    )
                    removed += [u for u, n in zip(user_ids, counts, strict=True) if n]
                if cursor == 0:
                    break
            # Only if it is still dead: a gateway back under the same id keeps its keys.
            if not await self._alive(gateway_id):
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.delete(users_key)
                    pipe.delete(self.keys.unread(gateway_id))
                    pipe.delete(self.keys.gateway(gateway_id))
                    pipe.zrem(self.keys.gateways, gateway_id)
                    await pipe.execute()
        finally:
            await self.client.delete(lock)
        log.info(
            "gateway_swept",
            gateway_id=gateway_id,
            users=len(removed),
            ms=round((time.monotonic() - started) * 1000),
        )
        return removed

    async def claim_notices(self, conversation_id: int, user_ids: list[int]) -> list[int]:
        if not user_ids:
            return []
        fresh = await self._claim_notices(
            keys=[self.keys.noticed(conversation_id)], args=[NOTICE_TTL_MS, *user_ids]
        )
        return [int(uid) for uid in fresh]

    async def clear_notice(self, conversation_id: int, user_id: int) -> None:
        await self.client.srem(self.keys.noticed(conversation_id), user_id)
