"""Group commit: jobs that arrive while a batch is being written go together in the next.

There is no timer. A lone job is written at once; under load the next batch holds
everything that queued meanwhile, so one transaction, one commit and one fsync serve many
jobs (as a database's log does with concurrent commits) and latency stays one batch deep.

Jobs are spread over lanes by a key; a lane writes one batch at a time, in submission
order, and lanes run concurrently. Jobs that must stay in order (one conversation's
messages) share a key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")

# Writes a batch; one result per job, in order (an exception as a result fails that job).
BatchWriter = Callable[[list[J]], Awaitable[Sequence["R | BaseException"]]]


class _Lane(Generic[J, R]):
    __slots__ = ("pending", "task")

    def __init__(self) -> None:
        self.pending: list[tuple[J, asyncio.Future[R]]] = []
        self.task: asyncio.Task[None] | None = None


class GroupCommit(Generic[J, R]):
    def __init__(self, write: BatchWriter[J, R], *, lanes: int = 1, max_batch: int = 256) -> None:
        if lanes < 1 or max_batch < 1:
            raise ValueError("lanes and max_batch must be at least 1")
        self._write = write
        self._lanes: list[_Lane[J, R]] = [_Lane() for _ in range(lanes)]
        self.max_batch = max_batch
        self.batches = 0
        self.jobs = 0

    async def submit(self, job: J, key: int = 0) -> R:
        """Write ``job`` with whatever else is waiting in its lane; its result.

        A caller that gives up (cancelled) does not take its job back: it is written all
        the same, as a send whose sender vanished still counts once stored.
        """
        lane = self._lanes[key % len(self._lanes)]
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        lane.pending.append((job, future))
        if lane.task is None:
            lane.task = asyncio.create_task(self._drain(lane), name="group-commit")
        return await asyncio.shield(future)

    async def _drain(self, lane: _Lane[J, R]) -> None:
        batch: list[tuple[J, asyncio.Future[R]]] = []
        try:
            while lane.pending:
                batch = lane.pending[: self.max_batch]
                del lane.pending[: len(batch)]
                self.batches += 1
                self.jobs += len(batch)
                try:
                    results: Sequence[R | BaseException] = await self._write(
                        [job for job, _ in batch]
                    )
                    if len(results) != len(batch):
                        raise RuntimeError("a batch writer must answer every job")
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_job, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:
            # Left over only when this task was cancelled (shutdown): nobody will write them.
            for _job, future in [*batch, *lane.pending]:
                if not future.done():
                    future.cancel()
            lane.pending.clear()
            lane.task = None


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen: the caller who would have awaited it may have gone."""
    if not future.cancelled():
        future.exception()
