"""The context every action runs in, and transactions whose pushes wait for the commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.throttle import LoginThrottle
from pigeon.bus.registry import Registry
from pigeon.bus.router import Router
from pigeon.common.protocol.frames import ServerFrame
from pigeon.common.settings import Settings
from pigeon.storage.database import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Push:
    frame: ServerFrame
    user_ids: tuple[int, ...]
    exclude_connection: str | None = None


@dataclass
class Outbox:
    """Pushes an action wants sent once (and only if) its transaction commits."""

    pushes: list[Push] = field(default_factory=list)

    def push(
        self, frame: ServerFrame, user_ids: Iterable[int], exclude_connection: str | None = None
    ) -> None:
        self.pushes.append(Push(frame, tuple(user_ids), exclude_connection))


@dataclass
class Context:
    settings: Settings
    db: Database
    router: Router
    registry: Registry
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run committed follow-up work (large fan-outs) without holding up the caller."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def finish_background(self, grace_s: float = 5.0) -> None:
        """On shutdown: let follow-up work finish, then cancel what is left."""
        if not self._background:
            return
        _done, pending = await asyncio.wait(list(self._background), timeout=grace_s)
        for task in pending:
            task.cancel()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[tuple[AsyncConnection, Outbox]]:
        """Run a block in one transaction; publish its outbox after the commit."""
        outbox = Outbox()
        async with self.db.transaction() as conn:
            yield conn, outbox
        await self.publish(outbox)

    async def publish(self, outbox: Outbox) -> None:
        """Send committed pushes. A failure here loses no data: clients sync by seq."""
        for push in outbox.pushes:
            try:
                await self.router.push(
                    push.frame, push.user_ids, exclude_connection=push.exclude_connection
                )
            except Exception as exc:
                if _is_outage(exc):
                    # The bus is unreachable (Redis down): expected, and recovered by sync.
                    log.warning(
                        "push_failed",
                        frame=push.frame.type,
                        users=len(push.user_ids),
                        error=str(exc),
                    )
                else:
                    log.exception("push_failed", frame=push.frame.type, users=len(push.user_ids))


def _is_outage(exc: Exception) -> bool:
    """A connection failure (ours or the Redis client's own ConnectionError/TimeoutError)."""
    return isinstance(exc, (OSError, TimeoutError)) or type(exc).__name__ in (
        "ConnectionError",
        "TimeoutError",
    )
