"""Password guessing: too many failed logins for one account from one address pause it.

Kept in the memory of each API server (a cluster's servers each count their own share): it
is a brake on guessing, not an account lock — the owner can still log in from elsewhere,
and the pause ends by itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_TRACKED = 100_000


@dataclass
class LoginThrottle:
    """At most ``max_failures`` failed logins per (username, address) within ``window_s``;
    past that, attempts are refused for the rest of the window."""

    max_failures: int = 10
    window_s: float = 300.0
    _failures: OrderedDict[tuple[str, str], list[float]] = field(default_factory=OrderedDict)

    def retry_after(self, username: str, address: str, now: float | None = None) -> float:
        """Seconds until this pair may try again; 0 when it may try now."""
        now = time.monotonic() if now is None else now
        recent = self._recent((username.lower(), address), now)
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, recent[0] + self.window_s - now)

    def failed(self, username: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = (username.lower(), address)
        recent = self._recent(key, now)
        recent.append(now)
        self._failures[key] = recent
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username.lower(), address), None)

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        return [t for t in self._failures.get(key, []) if now - t < self.window_s]
