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
from collections.abc import AsyncIterator
from typing import Protocol

from pigeon.bus.publication import Publication


class FanoutQueue(Protocol):
    async def push(self, publications: list[Publication]) -> None:
        """Append publications for the fan-out workers."""

    def consume(self, consumer: str) -> AsyncIterator[list[Publication]]:
        """Batches for this consumer. A batch counts as done once the consumer asks for
        the next one; a consumer that dies before that has its batch handed to another."""

    async def backlog(self) -> int:
        """Entries waiting or in work."""


class MemoryFanoutQueue:
    """One asyncio queue: the embedded mode's single process is the only worker."""

    def __init__(self, batch: int = 200) -> None:
        self._queue: asyncio.Queue[Publication] = asyncio.Queue()
        self.batch = batch

    async def push(self, publications: list[Publication]) -> None:
        for publication in publications:
            self._queue.put_nowait(publication)

    async def consume(self, consumer: str) -> AsyncIterator[list[Publication]]:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            yield batch

    async def backlog(self) -> int:
        return self._queue.qsize()
