"""Nothing committed stays unpushed: hand-off rows, finished in batches, retried when stale.

Every stored message has a row in ``message_handoffs`` from its commit (same transaction)
until a fan-out handed it to every gateway queue it needed. Whoever finishes a fan-out
(the process that stored a private message, or a fan-out worker) calls
:meth:`Handoffs.finish`; the rows are deleted in batches, one statement per
``FLUSH_S``. A row older than ``worker.handoff_grace_s`` means the hand-off was lost
between commit and gateway queues (a process died, Redis lost the fan-out stream): the
``handoff`` worker publishes the message again (:func:`republish_stale`). A message
pushed twice is harmless: clients drop a seq they hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.engine import RowMapping

from pigeon.common.clock import now_ms
from pigeon.common.outage import Outage
from pigeon.storage import handoffs as store
from pigeon.storage.database import Database

log = structlog.get_logger(__name__)

FLUSH_S = 0.05


class Handoffs:
    """Collects finished fan-outs and deletes their rows in the background, in batches."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._done: list[int] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage("handoff_finish")

    def finish(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        self._done += message_ids
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_forever(), name="handoff-finish")
        self._wake.set()

    def take(self) -> list[int]:
        """What finished so far, for a transaction that writes anyway to delete (the next
        batch of sends on SQLite: no commit of its own, no wait for the single writer).
        The caller gives them back (:meth:`finish`) if its transaction fails."""
        done, self._done = self._done, []
        return done

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(FLUSH_S)
            await self.flush()

    async def flush(self) -> None:
        """Delete the rows of what finished so far (kept for the next try if that fails)."""
        batch, self._done = self._done, []
        if not batch:
            return
        try:
            async with self.db.transaction() as conn:
                await store.finish_handoffs(conn, batch)
            self._outage.succeeded()
        except Exception as exc:
            # Left in place, a row only means the message may be pushed once more.
            self._outage.failed(exc, messages=len(batch))
            self._done = batch + self._done
            self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()


async def republish_stale(
    db: Database,
    republish: Callable[[list[RowMapping]], Awaitable[None]],
    *,
    grace_s: float,
    retry_s: float,
    oldest_queued_ms: int | None,
    limit: int = 500,
) -> int:
    """Hand messages whose fan-out did not finish in time to ``republish``; how many.

    A message committed ``grace_s`` before the oldest entry still in the fan-out queue
    (``oldest_queued_ms``) cannot be in it: its hand-off was lost. A younger one may just
    be waiting its turn in a backlog, so it is left alone until the queue moves past it;
    otherwise a slow fan-out would have its whole backlog published again and again.
    """
    now = now_ms()
    grace_ms = int(grace_s * 1000)
    older_than = now - grace_ms
    if oldest_queued_ms is not None:
        older_than = min(older_than, oldest_queued_ms - grace_ms)
    async with db.transaction() as conn:
        # Re-stamped so that the next try comes ``retry_s`` from now, not ``grace_s``.
        rows = await store.claim_stale(
            conn, older_than, now + int(retry_s * 1000) - grace_ms, limit
        )
    if rows:
        oldest = min(row["created_at"] for row in rows)
        log.warning("handoff_republished", messages=len(rows), oldest_age_ms=max(0, now - oldest))
        await republish(rows)
    return len(rows)
