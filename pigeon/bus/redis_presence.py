"""Presence bookkeeping on Redis: what friends were last told, and who is due a settle."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from pigeon.bus.redis_keys import RedisKeys, text
from pigeon.common.clock import now_ms
from pigeon.common.settings import RedisSettings

PRESENCE_TTL_MS = 7 * 24 * 3600 * 1000

# KEYS[1] conn hash, KEYS[2] presence key (same slot); ARGV now, presence ttl
# -> '+kinds' when it changed (and is now recorded), false when it did not
# (values are "<gateway> <device> <kind> <expires>"; friends see each kind once)
_SETTLE = """
local h = redis.call('HGETALL', KEYS[1])
local seen, devices = {}, {}
for i = 1, #h, 2 do
  local kind, e = string.match(h[i + 1], '(%S+) (%d+)$')
  e = tonumber(e)
  if kind and e and e > tonumber(ARGV[1]) and not seen[kind] then
    seen[kind] = true
    table.insert(devices, kind)
  end
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


class RedisPresenceBook:
    """:class:`pigeon.bus.registry.PresenceBook` on one Redis or a Redis Cluster."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.keys = RedisKeys(settings.key_prefix)
        self._settle = client.register_script(_SETTLE)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._leases: dict[int, int] = {}

    async def mark_dirty(self, user_ids: list[int], delay_s: float) -> None:
        if not user_ids:
            return
        due = now_ms() + int(delay_s * 1000)
        # LT: an earlier mark wins (coalescing flaps); a claimed user's lease lies in the
        # future, so a new mark replaces it and the user is settled once more.
        await self.client.zadd(self.keys.dirty, {str(uid): due for uid in user_ids}, lt=True)

    async def claim_dirty(self, limit: int, lease_s: float, ahead_s: float = 0.0) -> list[int]:
        now = now_ms()
        lease = now + int(lease_s * 1000) + random.randint(0, 999)  # noqa: S311
        until = now + int(ahead_s * 1000)
        due = await self._claim(keys=[self.keys.dirty], args=[until, lease, limit])
        claimed = [int(text(m)) for m in due]
        for user_id in claimed:
            self._leases[user_id] = lease
        return claimed

    async def release_dirty(self, user_ids: list[int]) -> None:
        by_lease: dict[int, list[int]] = defaultdict(list)
        for user_id in user_ids:
            lease = self._leases.pop(user_id, None)
            if lease is not None:
                by_lease[lease].append(user_id)
        for lease, users in by_lease.items():
            await self._release(keys=[self.keys.dirty], args=[lease, *users])

    async def lock(self, user_id: int, ttl_s: float) -> bool:
        key = self.keys.presence_lock(user_id)
        return bool(await self.client.set(key, "1", nx=True, px=int(ttl_s * 1000)))

    async def unlock(self, user_id: int) -> None:
        await self.client.delete(self.keys.presence_lock(user_id))

    async def settle(self, user_id: int) -> list[str] | None:
        changed = await self._settle(
            keys=[self.keys.conn(user_id), self.keys.presence(user_id)],
            args=[now_ms(), PRESENCE_TTL_MS],
        )
        if not changed:
            return None
        devices = text(changed)[1:]
        return devices.split(",") if devices else []
