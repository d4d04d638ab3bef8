"""The delivery-result stream of the server push API.

For every recipient of a message a backend pushed, the stream holds what happened:

    online    at push time the message was queued to a gateway holding one of the
              recipient's sockets (the gateway may still lose the socket before writing;
              the recipient then gets the message by seq sync like any other)
    offline   at push time the recipient had no socket anywhere; the message waits in the
              database
    synced    later, a client of an ``offline`` recipient fetched a page of history that
              holds the message (HTTP history or the WebSocket ``sync`` frame)

Rows live in the database, so every API server of a cluster serves the same stream and a
restart loses nothing. The cursor is the row id; appends are serialised so a reader never
skips a row that commits late.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from pigeon.actions.context import Context
from pigeon.common.clock import now_ms
from pigeon.storage import service as store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryEvent:
    cursor: int
    message_id: int
    conversation_id: int
    seq: int
    user_id: int
    status: str
    pushed_at: int
    ts: int


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[DeliveryEvent]
    next: int
    has_more: bool


async def record_push(
    ctx: Context,
    *,
    message_id: int,
    conversation_id: int,
    seq: int,
    pushed_at: int,
    outcomes: dict[int, bool],
) -> None:
    """Append the push-time outcome of each recipient; remember the offline ones."""
    if not outcomes:
        return
    now = now_ms()
    offline = [uid for uid, online in outcomes.items() if not online]
    async with ctx.db.transaction() as conn:
        await store.lock_stream(conn)
        await store.insert_pending(
            conn,
            message_id=message_id,
            conversation_id=conversation_id,
            seq=seq,
            user_ids=offline,
            now=pushed_at,
        )
        for uid, online in outcomes.items():
            await store.insert_delivery(
                conn,
                message_id=message_id,
                user_id=uid,
                conversation_id=conversation_id,
                seq=seq,
                status="online" if online else "offline",
                pushed_at=pushed_at,
                now=now,
            )


async def note_fetched(
    ctx: Context, user_id: int, conversation_id: int, low_seq: int, high_seq: int
) -> None:
    """A client of ``user_id`` fetched seqs ``low_seq..high_seq`` of a conversation: report
    the service-pushed messages among them that were waiting for this user.

    Costs one indexed read per history page; writes only when something was waiting. Never
    fails the fetch: the stream is a report, not part of delivery.
    """
    try:
        async with ctx.db.read() as conn:
            waiting = await store.pending_in_range(
                conn, user_id, conversation_id, low_seq, high_seq
            )
        if not waiting:
            return
        now = now_ms()
        async with ctx.db.transaction() as conn:
            await store.lock_stream(conn)
            for row in waiting:
                # Only the fetch that removes the row reports it, whatever races.
                if await store.take_pending(conn, row["message_id"], user_id):
                    await store.insert_delivery(
                        conn,
                        message_id=row["message_id"],
                        user_id=user_id,
                        conversation_id=conversation_id,
                        seq=row["seq"],
                        status="synced",
                        pushed_at=row["created_at"],
                        now=now,
                    )
        log.info("service_delivery_synced", user=user_id, messages=len(waiting))
    except Exception:
        log.exception("service_delivery_note_failed", user=user_id, conversation=conversation_id)


async def list_deliveries(ctx: Context, after: int, limit: int) -> DeliveryPage:
    """Stream rows after a cursor, oldest first; ``next`` is the cursor to ask with next."""
    async with ctx.db.read() as conn:
        rows, has_more = await store.deliveries_after(conn, after, limit)
    events = [
        DeliveryEvent(
            cursor=row["id"],
            message_id=row["message_id"],
            conversation_id=row["conversation_id"],
            seq=row["seq"],
            user_id=row["user_id"],
            status=row["status"],
            pushed_at=row["pushed_at"],
            ts=row["created_at"],
        )
        for row in rows
    ]
    return DeliveryPage(events, events[-1].cursor if events else after, has_more)
