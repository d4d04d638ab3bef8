"""Rate limits that count attempts atomically: logins, registrations, uploads.

Every limit is a fixed window per key: the first attempt opens a window of ``window_s``
seconds, and each attempt (including the one being decided) is counted *before* the work
it guards, in one step, so concurrent attempts cannot all pass a check made before any of
them was counted. Embedded servers count in memory; in a cluster every API server counts
in Redis (:mod:`pigeon.bus.redis_limits`), so the limits hold across servers.

A limiter that cannot reach its store lets attempts through (logged once per outage): a
brake must not take logins down with Redis.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pigeon.common.errors import RateLimited

MAX_TRACKED = 100_000


class Limiter(Protocol):
    async def hit(self, key: str, window_s: float) -> tuple[int, float]:
        """Count one attempt; return the attempts in the key's window (this one included)
        and the seconds until that window ends."""
        ...

    async def refund(self, key: str) -> None:
        """Take back one counted attempt (it turned out not to count, e.g. a good login)."""
        ...


@dataclass
class MemoryLimiter:
    """:class:`Limiter` in this process's memory (embedded mode, tests)."""

    clock: Callable[[], float] = field(default_factory=lambda: time.monotonic)
    _windows: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)

    async def hit(self, key: str, window_s: float) -> tuple[int, float]:
        # No await between reading and writing: atomic on the event loop.
        now = self.clock()
        ends, count = self._windows.get(key, (0.0, 0))
        if ends <= now:
            ends, count = now + window_s, 0
        count += 1
        self._windows[key] = (ends, count)
        self._windows.move_to_end(key)
        while len(self._windows) > MAX_TRACKED:
            self._windows.popitem(last=False)
        return count, ends - now

    async def refund(self, key: str) -> None:
        found = self._windows.get(key)
        if found is not None and found[1] > 0:
            self._windows[key] = (found[0], found[1] - 1)


async def take(limiter: Limiter, key: str, limit: int, window_s: float, what: str) -> None:
    """Count an attempt against ``limit`` per ``window_s``; :class:`RateLimited` past it."""
    if limit <= 0:
        return
    count, wait = await limiter.hit(key, window_s)
    if count > limit:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(f"too many {what}; try again in {seconds} s", retry_after=seconds)
