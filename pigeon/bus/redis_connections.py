"""Which gateway holds each user's sockets, on Redis (see :mod:`pigeon.bus.redis_keys`)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from pigeon.bus.delivery import Location
from pigeon.bus.redis_keys import CHUNK, RedisKeys, entry_value, eval_many, parse_entry, text
from pigeon.bus.registry import RefreshResult
from pigeon.common.clock import now_ms
from pigeon.common.settings import RedisSettings

# Every script that writes a user's hash first drops the expired fields in it: fields are
# connection ids, so a socket whose gateway died without unregistering it (kill -9) would
# otherwise stay in the hash for as long as the user's other sockets keep the key alive.
_PRUNE = """
local function prune(key, now, keep)
  local h = redis.call('HGETALL', key)
  local live = 0
  for i = 1, #h, 2 do
    local e = tonumber(string.match(h[i + 1], '(%d+)$'))
    if not e or e <= now then
      redis.call('HDEL', key, h[i])
    elseif h[i] ~= keep then
      live = live + 1
    end
  end
  return live
end
"""

# KEYS[1] conn hash; ARGV connection, value, key ttl ms, now ms, cap (0: none)
# -> 1 recorded, 0 refused (the user already has cap live sockets)
_REGISTER = (
    _PRUNE
    + """
local live = prune(KEYS[1], tonumber(ARGV[4]), ARGV[1])
local cap = tonumber(ARGV[5])
if cap > 0 and live >= cap then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

# KEYS[1] conn hash; ARGV connection, gateway -> 1 if removed
_UNREGISTER = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
if string.match(v, '^(%S+)') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# KEYS[1] conn hash; ARGV connection, value, key ttl, now
# -> 0 refreshed, 1 re-created (was missing or expired)
_REFRESH = (
    _PRUNE
    + """
local now = tonumber(ARGV[4])
local v = redis.call('HGET', KEYS[1], ARGV[1])
local created = 1
if v then
  local e = tonumber(string.match(v, '(%d+)$'))
  if e and e > now then created = 0 end
end
prune(KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return created
"""
)

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


class RedisConnections:
    """:class:`pigeon.bus.registry.Connections` on one Redis or a Redis Cluster."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.keys = RedisKeys(settings.key_prefix)
        self.cluster = settings.cluster
        self.ttl_ms = int(settings.registry_ttl_s * 1000)
        self._register = client.register_script(_REGISTER)
        self._unregister = client.register_script(_UNREGISTER)
        self._refresh = client.register_script(_REFRESH)
        self._drop_gateway = client.register_script(_DROP_GATEWAY)

    async def register(self, user_id: int, location: Location, cap: int = 0) -> bool:
        now = now_ms()
        recorded, _ = await asyncio.gather(
            self._register(
                keys=[self.keys.conn(user_id)],
                args=[
                    location.connection_id,
                    entry_value(location, now + self.ttl_ms),
                    self.ttl_ms,
                    now,
                    cap,
                ],
            ),
            self.client.zadd(self.keys.gateway_users(location.gateway_id), {str(user_id): now}),
        )
        return bool(recorded)

    async def unregister(self, user_id: int, location: Location) -> bool:
        removed = await self._unregister(
            keys=[self.keys.conn(user_id)],
            args=[location.connection_id, location.gateway_id],
        )
        return bool(removed)

    async def refresh(self, entries: list[tuple[int, Location]]) -> RefreshResult:
        result = RefreshResult()
        now = now_ms()
        by_gateway: dict[str, dict[str, int]] = defaultdict(dict)
        calls = []
        for user_id, location in entries:
            value = entry_value(location, now + self.ttl_ms)
            args = [location.connection_id, value, self.ttl_ms, now]
            calls.append(([self.keys.conn(user_id)], args))
            by_gateway[location.gateway_id][str(user_id)] = now
        outcomes = await eval_many(self.client, self.cluster, self._refresh, calls)
        for (user_id, _location), outcome in zip(entries, outcomes, strict=True):
            if outcome == 1:
                result.recreated.append(user_id)
        async with self.client.pipeline(transaction=False) as pipe:
            for gateway_id, users in by_gateway.items():
                key = self.keys.gateway_users(gateway_id)
                pipe.zadd(key, users)
                pipe.zremrangebyscore(key, "-inf", now - self.ttl_ms)
            await pipe.execute()
        return result

    async def locations(self, user_ids: list[int]) -> dict[int, list[Location]]:
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
                for connection_id, value in row.items():
                    parsed = parse_entry(text(connection_id), value)
                    if parsed is not None and parsed[1] > now:
                        live.append(parsed[0])
                if live:
                    found[user_id] = live
        return found

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for user_id, locations in (await self.locations(user_ids)).items():
            for gateway_id in dict.fromkeys(loc.gateway_id for loc in locations):
                found[gateway_id].append(user_id)
        return dict(found)

    async def locate_devices(self, user_ids: list[int]) -> dict[str, list[tuple[int, str]]]:
        found: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for user_id, locations in (await self.locations(user_ids)).items():
            for gateway_id, device in dict.fromkeys(
                (loc.gateway_id, loc.device) for loc in locations
            ):
                found[gateway_id].append((user_id, device))
        return dict(found)

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        return {
            user_id: sorted({loc.kind for loc in locations})
            for user_id, locations in (await self.locations(user_ids)).items()
        }

    async def drop_gateway(self, gateway_id: str) -> list[int]:
        """Remove a dead gateway's entries; the users who had one there."""
        users_key = self.keys.gateway_users(gateway_id)
        removed: list[int] = []
        cursor = 0
        while True:
            cursor, members = await self.client.zscan(users_key, cursor, count=CHUNK)
            user_ids = [int(text(m)) for m, _score in members]
            if user_ids:
                counts = await eval_many(
                    self.client,
                    self.cluster,
                    self._drop_gateway,
                    [([self.keys.conn(user_id)], [gateway_id]) for user_id in user_ids],
                )
                removed += [u for u, n in zip(user_ids, counts, strict=True) if n]
            if cursor == 0:
                break
        await self.client.delete(users_key)
        return removed
