"""The hand-off between the processes that store messages and the fan-out workers.

The seed's message queue in front of its storage/timeline service: the process that
committed a group message (or anything addressed to a whole group) appends it here after
the ack and forgets it; any number of ``pigeon worker`` processes share the entries (one
consumer group on Redis) and resolve the recipients. A worker that dies leaves its
entries pending; another claims them after ``redis.fanout_claim_idle_s``. Entries lost
with Redis are not lost to users: every stored message also has a hand-off row in the
database until it was fanned out (see :mod:`pigeon.actions.handoff`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncGenerator
from typing import Protocol

from pigeon.bus.publication import Publication
from pigeon.common.clock import now_ms


class FanoutQueue(Protocol):
    async def push(self, publications: list[Publication]) -> None:
        """Append publications for the fan-out workers."""

    def consume(self, consumer: str) -> AsyncGenerator[list[Publication], None]:
        """Batches for this consumer. A batch counts as done once the consumer asks for
        the next one; a consumer that fails, or closes the iterator, before that has its
        batch handed out again (on Redis possibly to another consumer)."""

    async def backlog(self) -> int:
        """Entries waiting or in work."""

    async def oldest_ms(self) -> int | None:
        """When the oldest entry waiting or in work was appended (None: empty). A message
        committed well before it cannot be in the queue: its hand-off was lost."""


class MemoryFanoutQueue:
    """A deque and a wake-up event: the embedded mode's single process is the only worker."""

    def __init__(self, batch: int = 200) -> None:
        self._entries: deque[tuple[int, Publication]] = deque()
        self._arrived = asyncio.Event()
        self._in_work: list[tuple[int, Publication]] = []
        self.batch = batch

    async def push(self, publications: list[Publication]) -> None:
        now = now_ms()
        self._entries.extend((now, publication) for publication in publications)
        self._arrived.set()

    async def consume(self, consumer: str) -> AsyncGenerator[list[Publication], None]:
        while True:
            while not self._entries:
                self._arrived.clear()
                await self._arrived.wait()
            taken = [self._entries.popleft() for _ in range(min(self.batch, len(self._entries)))]
            self._in_work = taken
            try:
                yield [publication for _, publication in taken]
            except BaseException:
                # Not done: put the batch back in front, in order, for the next consumer.
                self._entries.extendleft(reversed(taken))
                self._arrived.set()
                raise
            finally:
                self._in_work = []

    async def backlog(self) -> int:
        return len(self._entries) + len(self._in_work)

    async def oldest_ms(self) -> int | None:
        first = self._in_work[:1] or list(itertools.islice(self._entries, 1))
        return first[0][0] if first else None
