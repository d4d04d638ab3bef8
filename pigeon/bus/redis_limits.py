"""The rate limiter of :mod:`pigeon.actions.throttle` on Redis, shared by a cluster's servers.

One key per limited thing (``P:limit:{<sha256 of key>}``): a counter that expires with its window.
Counting and reading the window's end is one Lua script, so concurrent attempts on any
servers are counted one by one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pigeon.common.outage import Outage
from pigeon.common.settings import RedisSettings

# KEYS[1] counter; ARGV window ms -> {count, ms left in the window}
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""

# KEYS[1] counter -> decrement it if it still exists and is positive
_REFUND = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
"""


class RedisLimiter:
    """:class:`pigeon.actions.throttle.Limiter` on one Redis or a Redis Cluster."""

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.prefix = settings.key_prefix
        self._hit = client.register_script(_HIT)
        self._refund = client.register_script(_REFUND)
        self.outage = Outage("rate_limiter")

    def key(self, key: str) -> str:
        # Hashed: the key holds what a client typed (a login's username).
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self.prefix}:limit:{{{digest}}}"

    async def hit(self, key: str, window_s: float) -> tuple[int, float]:
        window_ms = max(1, int(window_s * 1000))
        try:
            count, ttl = await self._hit(keys=[self.key(key)], args=[window_ms])
        except Exception as exc:
            # Let the attempt through: a brake must not take logins down with Redis.
            self.outage.failed(exc)
            return 0, 0.0
        self.outage.succeeded()
        return int(count), int(ttl) / 1000

    async def refund(self, key: str) -> None:
        try:
            await self._refund(keys=[self.key(key)])
        except Exception as exc:
            self.outage.failed(exc)
            return
        self.outage.succeeded()
