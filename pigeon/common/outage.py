"""Outages logged as two lines, not a traceback per failed call.

A dependency that is down (Redis restarting, the database failing over) makes every call
fail. :class:`Outage` logs one warning when failures start and one when a call succeeds
again, with how many failed in between; errors that are not outages (bugs) still log their
traceback, once per distinct error within ``BUG_REPEAT_S``.
"""

from __future__ import annotations

import time

import structlog

log = structlog.get_logger(__name__)

BUG_REPEAT_S = 60.0


def is_outage(exc: BaseException) -> bool:
    """A connection failure (ours, Redis's or a database driver's)."""
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(
        names
        & {
            "ConnectionError",
            "TimeoutError",
            "BusyLoadingError",
            "ClusterDownError",
            "TryAgainError",
            "OperationalError",
            "InterfaceError",
            "ConnectionDoesNotExistError",
        }
    )


class Outage:
    """The state of one dependency as seen by one part of one process."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None
        self.failures = 0
        self._bugs: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, **context: object) -> None:
        """A call failed: log the start of an outage, or a bug (rate-limited)."""
        if not is_outage(exc):
            key = f"{type(exc).__name__}:{exc}"[:200]
            now = time.monotonic()
            if len(self._bugs) > 100:
                self._bugs.clear()
            if now - self._bugs.get(key, -BUG_REPEAT_S) >= BUG_REPEAT_S:
                self._bugs[key] = now
                log.error(f"{self.what}_failed", exc_info=exc, **context)
            return
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning(f"{self.what}_outage_started", error=repr(exc), **context)

    def succeeded(self) -> None:
        """A call went through: log the end of an outage, with its count."""
        if self.since is None:
            return
        log.warning(
            f"{self.what}_outage_ended",
            failures=self.failures,
            seconds=round(time.monotonic() - self.since, 1),
        )
        self.since = None
        self.failures = 0
