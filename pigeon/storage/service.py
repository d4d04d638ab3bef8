"""Queries of the server push API: system-send idempotency, pending offline recipients and
the delivery-result stream."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import (
    service_deliveries,
    service_pending,
    service_system_sends,
    users,
)


async def existing_user_ids(conn: AsyncConnection, user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    rows = await conn.execute(select(users.c.id).where(users.c.id.in_(user_ids)))
    return {int(row[0]) for row in rows}


async def find_system_send(conn: AsyncConnection, client_msg_id: str) -> int | None:
    """The message id a system send with this client_msg_id stored, if any."""
    row = await conn.execute(
        select(service_system_sends.c.message_id).where(
            service_system_sends.c.client_msg_id == client_msg_id
        )
    )
    found = row.first()
    return int(found[0]) if found is not None else None


async def insert_system_send(
    conn: AsyncConnection, client_msg_id: str, message_id: int, now: int
) -> None:
    """Claim the client_msg_id; a concurrent claim fails with IntegrityError."""
    await conn.execute(
        service_system_sends.insert().values(
            client_msg_id=client_msg_id, message_id=message_id, created_at=now
        )
    )


async def insert_pending(
    conn: AsyncConnection,
    *,
    message_id: int,
    conversation_id: int,
    seq: int,
    user_ids: list[int],
    now: int,
) -> None:
    if not user_ids:
        return
    await conn.execute(
        service_pending.insert(),
        [
            {
                "message_id": message_id,
                "user_id": uid,
                "conversation_id": conversation_id,
                "seq": seq,
                "created_at": now,
            }
            for uid in user_ids
        ],
    )


async def pending_in_range(
    conn: AsyncConnection, user_id: int, conversation_id: int, low: int, high: int
) -> list[RowMapping]:
    """The user's pending rows in a conversation with ``low <= seq <= high``."""
    rows = await conn.execute(
        select(service_pending).where(
            service_pending.c.user_id == user_id,
            service_pending.c.conversation_id == conversation_id,
            service_pending.c.seq >= low,
            service_pending.c.seq <= high,
        )
    )
    return list(rows.mappings())


async def take_pending(conn: AsyncConnection, message_id: int, user_id: int) -> bool:
    """Remove one pending row; True only for the caller that removed it."""
    result = await conn.execute(
        delete(service_pending).where(
            service_pending.c.message_id == message_id, service_pending.c.user_id == user_id
        )
    )
    return bool(result.rowcount)


async def insert_delivery(
    conn: AsyncConnection,
    *,
    message_id: int,
    user_id: int,
    conversation_id: int,
    seq: int,
    status: str,
    pushed_at: int,
    now: int,
) -> None:
    await conn.execute(
        service_deliveries.insert().values(
            message_id=message_id,
            user_id=user_id,
            conversation_id=conversation_id,
            seq=seq,
            status=status,
            pushed_at=pushed_at,
            created_at=now,
        )
    )


async def deliveries_after(
    conn: AsyncConnection, after: int, limit: int
) -> tuple[list[RowMapping], bool]:
    """Up to ``limit`` stream rows with a cursor above ``after``, oldest first; has_more."""
    rows = await conn.execute(
        select(service_deliveries)
        .where(service_deliveries.c.id > after)
        .order_by(service_deliveries.c.id)
        .limit(limit + 1)
    )
    found = list(rows.mappings())
    return found[:limit], len(found) > limit


# Any constant: the advisory lock that serialises appends to the stream on PostgreSQL.
_STREAM_LOCK = 0x50_49_47_45_4F_4E  # "PIGEON"


async def lock_stream(conn: AsyncConnection) -> None:
    """Hold the stream's append lock until this transaction ends.

    Cursors are ids, and a reader must never see id N+1 before N is committed (it would
    move past N for good). PostgreSQL allocates ids before commit, so appends queue on a
    transaction-scoped advisory lock and commit in id order. SQLite has one writer anyway.
    """
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_STREAM_LOCK})")


async def push_outcomes(conn: AsyncConnection, message_id: int) -> dict[int, str]:
    """The push-time status ("online"/"offline") recorded for each recipient of a message."""
    rows = await conn.execute(
        select(service_deliveries.c.user_id, service_deliveries.c.status).where(
            service_deliveries.c.message_id == message_id,
            service_deliveries.c.status.in_(("online", "offline")),
        )
    )
    return {int(uid): str(status) for uid, status in rows}
