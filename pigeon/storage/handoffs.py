"""Hand-off rows: messages committed and not yet fanned out (see ``schema.message_handoffs``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import message_handoffs, messages

_INSERT = message_handoffs.insert()
_FINISH = delete(message_handoffs).where(
    message_handoffs.c.message_id.in_(bindparam("ids", expanding=True))
)
# PostgreSQL: one array parameter, not one rendered per id (SQLAlchemy renders and casts an
# expanding IN on every call, which costs more than the delete).
_FINISH_ARRAY = delete(message_handoffs).where(
    message_handoffs.c.message_id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
)


async def insert_handoff(conn: AsyncConnection, message_id: int, now: int) -> None:
    """In the transaction that stores the message."""
    await conn.execute(_INSERT, {"message_id": message_id, "handed_at": now, "created_at": now})


async def finish_handoffs(conn: AsyncConnection, message_ids: list[int]) -> None:
    """These messages were fanned out."""
    if message_ids:
        statement = _FINISH_ARRAY if conn.dialect.name == "postgresql" else _FINISH
        await conn.execute(statement, {"ids": message_ids})


async def claim_stale(
    conn: AsyncConnection, older_than: int, handed_at: int, limit: int
) -> list[RowMapping]:
    """Rows handed on before ``older_than``, re-stamped ``handed_at`` so that no other
    claimer takes them meanwhile; with their messages (missing ones are dropped)."""
    ids = list(
        (
            await conn.execute(
                select(message_handoffs.c.message_id)
                .where(message_handoffs.c.handed_at < older_than)
                .order_by(message_handoffs.c.handed_at)
                .limit(limit)
            )
        ).scalars()
    )
    if not ids:
        return []
    # The guard on handed_at makes a concurrent claimer's update of the same row a no-op.
    claimed = (
        (
            await conn.execute(
                update(message_handoffs)
                .where(
                    message_handoffs.c.message_id.in_(ids),
                    message_handoffs.c.handed_at < older_than,
                )
                .values(handed_at=handed_at)
                .returning(message_handoffs.c.message_id)
            )
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    rows = (
        (await conn.execute(select(messages).where(messages.c.id.in_(list(claimed)))))
        .mappings()
        .all()
    )
    gone = set(claimed) - {row["id"] for row in rows}
    if gone:
        await finish_handoffs(conn, sorted(gone))
    return list(rows)


async def backlog(conn: AsyncConnection) -> tuple[int, int | None]:
    """How many messages wait for their fan-out, and when the oldest was committed."""
    row = (
        await conn.execute(
            select(func.count(), func.min(message_handoffs.c.created_at)).select_from(
                message_handoffs
            )
        )
    ).one()
    return int(row[0]), (int(row[1]) if row[1] is not None else None)
