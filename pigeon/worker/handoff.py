"""``handoff``: publishes again the stored messages whose fan-out did not finish in time.

A hand-off row older than ``worker.handoff_grace_s`` means the message was committed but
never reached the gateway queues (the process that stored it died before publishing, a
worker died mid-way, Redis lost the fan-out stream). Every ``handoff_interval_s`` this
worker claims such rows (any number of workers may: a claim re-stamps the row, so two
never take the same one) and puts the messages on the fan-out queue again; the fan-out
finishes the row. Also reports the backlog and the age of the oldest unpushed message.
"""

from __future__ import annotations

from sqlalchemy.engine import RowMapping

from pigeon.actions.context import Context
from pigeon.actions.handoff import republish_stale
from pigeon.bus.publication import MessageStored
from pigeon.common.clock import now_ms
from pigeon.common.metrics import Metrics
from pigeon.common.models import Message
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import MessageFrame
from pigeon.storage import handoffs as store
from pigeon.storage.messages import complete, message_from_row
from pigeon.worker.base import Worker, worker


@worker
class HandoffWorker(Worker):
    name = "handoff"

    def __init__(self, ctx: Context, metrics: Metrics) -> None:
        super().__init__(ctx, metrics)
        self.idle_s = ctx.settings.worker.handoff_interval_s

    async def step(self) -> int:
        settings = self.ctx.settings.worker
        async with self.ctx.db.read() as conn:
            backlog, oldest = await store.backlog(conn)
        self.metrics.handoff_backlog.set(backlog)
        self.metrics.unpushed_age.set(0 if oldest is None else (now_ms() - oldest) / 1000)
        fanout = self.ctx.publisher.fanout
        done = await republish_stale(
            self.ctx.db,
            self._republish,
            grace_s=settings.handoff_grace_s,
            retry_s=settings.handoff_retry_s,
            oldest_queued_ms=await fanout.oldest_ms(),
        )
        self.metrics.handoffs_republished.inc(done)
        self.metrics.fanout_backlog.set(await fanout.backlog())
        return done

    async def _republish(self, rows: list[RowMapping]) -> None:
        found = [message_from_row(row) for row in rows]
        async with self.ctx.db.read() as conn:  # with its reactions and quote, if any
            found = await complete(conn, found)
        publications = [_stored(m) for m in found]
        # Straight to the queue: raising here leaves the rows for the next round.
        await self.ctx.publisher.fanout.push(list(publications))


def _stored(message: Message) -> MessageStored:
    """Republished messages go through a worker whatever their conversation: it resolves
    the members (a private message's too)."""
    return MessageStored(
        message_id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        frame=encode_server_frame(MessageFrame(message=message)),
    )
