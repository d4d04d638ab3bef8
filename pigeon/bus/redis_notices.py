"""The hot-group notice book on Redis: one hash per hot conversation.

``P:stubs:{<conversation>}`` holds ``<user id>:<device> -> "<read> <owed>"`` per device
that was online during a fan-out (offline members cost nothing) and ``latest``, the
highest seq fanned out. Each call is one script on one key, so it is atomic and
Redis-Cluster safe. Lost (Redis restarted empty), the hash is rebuilt: the next fan-out
finds devices without a stub and seeds them from the database. The scripts mirror
:mod:`pigeon.bus.notice_rules`.
"""

from __future__ import annotations

from typing import Any

from pigeon.bus.notices import DeviceKey, Wakes
from pigeon.common.settings import RedisSettings

STUBS_TTL_MS = 7 * 24 * 3600 * 1000

# KEYS[1] stubs; ARGV seq, sender device ('' none), ttl, devices -> {notify, unknown}
_ON_MESSAGE = """
local seq = tonumber(ARGV[1])
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '0')
if seq > latest then redis.call('HSET', KEYS[1], 'latest', seq) end
local notify, unknown = {}, {}
for i = 4, #ARGV do
  local device = ARGV[i]
  local v = redis.call('HGET', KEYS[1], device)
  if not v then
    table.insert(unknown, device)
  else
    local r, o = string.match(v, '^(-?%d+) (%d+)$')
    local read, owed = tonumber(r), tonumber(o)
    if device == ARGV[2] and read ~= -1 and read >= seq - 1 then
      if seq > read then read = seq end
      if owed <= read then owed = 0 end
      redis.call('HSET', KEYS[1], device, read .. ' ' .. owed)
    elseif read < seq and (owed == 0 or owed == seq) then
      redis.call('HSET', KEYS[1], device, read .. ' ' .. seq)
      table.insert(notify, device)
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {notify, unknown}
"""

# KEYS[1] stubs; ARGV ttl, then pairs of device, read seq -> seeded count
_SEED = """
local n = 0
for i = 2, #ARGV, 2 do
  n = n + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1] .. ' 0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
"""

# KEYS[1] stubs; ARGV seq, device, ttl -> seq of the notice owed now, or false
_ON_CATCH_UP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local read, owed = -1, 0
local v = redis.call('HGET', KEYS[1], ARGV[2])
if v then
  local r, o = string.match(v, '^(-?%d+) (%d+)$')
  read, owed = tonumber(r), tonumber(o)
end
local seq = tonumber(ARGV[1])
if seq > read then read = seq end
if owed <= read then owed = 0 end
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '0')
local wake = false
if owed == 0 and latest > read then
  owed = latest
  wake = latest
end
redis.call('HSET', KEYS[1], ARGV[2], read .. ' ' .. owed)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wake
"""


def _field(device: DeviceKey) -> str:
    return f"{device[0]}:{device[1]}"


def _devices(values: Any) -> list[DeviceKey]:
    found: list[DeviceKey] = []
    for value in values:
        text = value.decode() if isinstance(value, bytes) else str(value)
        user, _, kind = text.partition(":")
        found.append((int(user), kind))
    return found


class RedisNoticeBook:
    """:class:`pigeon.bus.notices.NoticeBook` on one Redis or a Redis Cluster."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.prefix = settings.key_prefix
        self._on_message = client.register_script(_ON_MESSAGE)
        self._seed = client.register_script(_SEED)
        self._on_catch_up = client.register_script(_ON_CATCH_UP)

    def key(self, conversation_id: int) -> str:
        return f"{self.prefix}:stubs:{{{conversation_id}}}"

    async def on_message(
        self,
        conversation_id: int,
        seq: int,
        sender: DeviceKey | None,
        devices: list[DeviceKey],
    ) -> Wakes:
        args = [seq, _field(sender) if sender else "", STUBS_TTL_MS]
        notify, unknown = await self._on_message(
            keys=[self.key(conversation_id)], args=args + [_field(d) for d in devices]
        )
        return Wakes(_devices(notify), _devices(unknown))

    async def seed(self, conversation_id: int, reads: dict[DeviceKey, int]) -> None:
        if not reads:
            return
        pairs = [value for device, read in reads.items() for value in (_field(device), read)]
        await self._seed(keys=[self.key(conversation_id)], args=[STUBS_TTL_MS, *pairs])

    async def on_catch_up(self, conversation_id: int, device: DeviceKey, seq: int) -> int | None:
        owed = await self._on_catch_up(
            keys=[self.key(conversation_id)], args=[seq, _field(device), STUBS_TTL_MS]
        )
        return int(owed) if owed else None
