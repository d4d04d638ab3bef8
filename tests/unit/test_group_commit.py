"""Group commit: what queues during a write goes in the next batch, in order, per lane."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from pigeon.common.batching import GroupCommit


class Recorder:
    """A batch writer that records its batches and can be held mid-write."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.writing = asyncio.Event()

    async def write(self, jobs: list[int]) -> Sequence[str | BaseException]:
        self.batches.append(list(jobs))
        self.writing.set()
        await self.gate.wait()
        return [ValueError(job) if job < 0 else f"done {job}" for job in jobs]


async def test_a_lone_job_is_written_at_once() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write)
    assert await commit.submit(1) == "done 1"
    assert recorder.batches == [[1]]


async def test_jobs_queued_during_a_write_share_the_next_batch_in_order() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write)
    recorder.gate.clear()
    first = asyncio.create_task(commit.submit(1))
    await recorder.writing.wait()
    rest = [asyncio.create_task(commit.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == "done 1"
    assert [await task for task in rest] == ["done 2", "done 3", "done 4"]
    assert recorder.batches == [[1], [2, 3, 4]]
    assert (commit.batches, commit.jobs) == (2, 4)


async def test_a_batch_is_capped_and_the_rest_follows() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write, max_batch=2)
    recorder.gate.clear()
    tasks = [asyncio.create_task(commit.submit(n)) for n in range(5)]
    await recorder.writing.wait()
    recorder.gate.set()
    await asyncio.gather(*tasks)
    assert recorder.batches == [[0, 1], [2, 3], [4]]


async def test_one_failed_job_fails_alone() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write)
    recorder.gate.clear()
    tasks = [asyncio.create_task(commit.submit(n)) for n in (1, -2, 3)]
    await recorder.writing.wait()
    recorder.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == "done 1"
    assert results[2] == "done 3"
    assert isinstance(results[1], ValueError)


async def test_a_writer_that_raises_fails_its_batch_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    async def write(jobs: list[int]) -> Sequence[str | BaseException]:
        calls.append(jobs)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return ["ok"] * len(jobs)

    commit: GroupCommit[int, str] = GroupCommit(write)
    with pytest.raises(RuntimeError, match="database gone"):
        await commit.submit(1)
    assert await commit.submit(2) == "ok"


async def test_a_writer_must_answer_every_job() -> None:
    async def write(jobs: list[int]) -> Sequence[str | BaseException]:
        return ["only one"]

    commit: GroupCommit[int, str] = GroupCommit(write)
    tasks = [asyncio.create_task(commit.submit(n)) for n in (1, 2)]
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        assert isinstance(result, RuntimeError)


async def test_lanes_write_concurrently_and_keep_their_own_order() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write, lanes=2)
    recorder.gate.clear()
    tasks = [asyncio.create_task(commit.submit(n, key=n % 2)) for n in range(6)]
    await asyncio.sleep(0.01)
    # Both lanes are writing while neither can finish: they run side by side.
    assert sorted(recorder.batches) == [[0, 2, 4], [1, 3, 5]]
    recorder.gate.set()
    await asyncio.gather(*tasks)
    late = [asyncio.create_task(commit.submit(n, key=n % 2)) for n in (6, 7)]
    await asyncio.gather(*late)
    assert len(recorder.batches) == 4
    evens = [b for b in recorder.batches if b and b[0] % 2 == 0]
    odds = [b for b in recorder.batches if b and b[0] % 2 == 1]
    assert [n for b in evens for n in b] == [0, 2, 4, 6]
    assert [n for b in odds for n in b] == [1, 3, 5, 7]


async def test_a_caller_that_gives_up_does_not_take_its_job_back() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write)
    recorder.gate.clear()
    first = asyncio.create_task(commit.submit(1))
    await recorder.writing.wait()
    gives_up = asyncio.create_task(commit.submit(2))
    await asyncio.sleep(0)
    gives_up.cancel()
    recorder.gate.set()
    assert await first == "done 1"
    with pytest.raises(asyncio.CancelledError):
        await gives_up
    while commit.jobs < 2:
        await asyncio.sleep(0.001)
    assert recorder.batches == [[1], [2]]
