"""``fanout``: the seed's timeline service. Takes publications off the fan-out queue and
delivers them to every member's gateway (:mod:`pigeon.actions.fanout`).

Any number run, in any number of processes: on Redis they share one consumer group, so
each entry goes to one worker, and a worker that dies has its entries claimed by another.
A batch that fails (the bus went down mid-way) is left unacknowledged and tried again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time

from pigeon.actions.context import Context
from pigeon.actions.fanout import fan_out
from pigeon.common.metrics import Metrics
from pigeon.worker.base import Worker, worker


@worker
class FanoutWorker(Worker):
    name = "fanout"

    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        super().__init__(ctx, metrics)
        self.consumer = f"{os.getpid()}-{secrets.token_hex(3)}"

    async def run(self) -> None:
        # A failure leaves the batch unacknowledged (closing the iterator hands it back);
        # the runner restarts us after a pause.
        batches = self.ctx.publisher.fanout.consume(self.consumer)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                started = time.perf_counter()
                await fan_out(self.ctx, batch)
                self.metrics.fanout_seconds.observe(time.perf_counter() - started)
                self.metrics.worker_items.labels(self.name).inc(len(batch))
                self.outage.succeeded()
