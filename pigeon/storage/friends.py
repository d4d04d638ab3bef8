"""Queries for friendships (two rows each, one per side), friend requests and blocks."""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.conversations import _upsert_dialect
from pigeon.storage.schema import blocks, friend_requests, friendships

# -- friendships ------------------------------------------------------------------------


async def find_friendship(conn: AsyncConnection, user_id: int, friend_id: int) -> RowMapping | None:
    query = select(friendships).where(
        friendships.c.user_id == user_id, friendships.c.friend_id == friend_id
    )
    return (await conn.execute(query)).mappings().first()


async def friends_among(conn: AsyncConnection, user_id: int, candidate_ids: list[int]) -> set[int]:
    """Which of ``candidate_ids`` are friends of ``user_id``."""
    found: set[int] = set()
    for start in range(0, len(candidate_ids), 500):
        chunk = candidate_ids[start : start + 500]
        query = select(friendships.c.friend_id).where(
            friendships.c.user_id == user_id, friendships.c.friend_id.in_(chunk)
        )
        found.update((await conn.execute(query)).scalars())
    return found


async def insert_friendship(conn: AsyncConnection, user_a: int, user_b: int, now: int) -> None:
    """Make two users friends (both rows); a no-op if they already are."""
    insert = _upsert_dialect(conn).insert(friendships)
    await conn.execute(
        insert.on_conflict_do_nothing(index_elements=["user_id", "friend_id"]),
        [
            {"user_id": user_a, "friend_id": user_b, "created_at": now},
            {"user_id": user_b, "friend_id": user_a, "created_at": now},
        ],
    )


async def delete_friendship(conn: AsyncConnection, user_a: int, user_b: int) -> bool:
    """Remove both rows; True if they were friends."""
    result = await conn.execute(
        delete(friendships).where(
            or_(
                (friendships.c.user_id == user_a) & (friendships.c.friend_id == user_b),
                (friendships.c.user_id == user_b) & (friendships.c.friend_id == user_a),
            )
        )
    )
    return result.rowcount > 0


async def set_remark(conn: AsyncConnection, user_id: int, friend_id: int, remark: str) -> bool:
    result = await conn.execute(
        update(friendships)
        .where(friendships.c.user_id == user_id, friendships.c.friend_id == friend_id)
        .values(remark=remark)
    )
    return result.rowcount == 1


async def list_friendships(conn: AsyncConnection, user_id: int) -> list[RowMapping]:
    query = (
        select(friendships)
        .where(friendships.c.user_id == user_id)
        .order_by(friendships.c.created_at, friendships.c.friend_id)
    )
    return list((await conn.execute(query)).mappings())


# -- friend requests --------------------------------------------------------------------


async def insert_request(
    conn: AsyncConnection, from_user_id: int, to_user_id: int, note: str, now: int
) -> int:
    result = await conn.execute(
        friend_requests.insert()
        .values(
            from_user_id=from_user_id,
            to_user_id=to_user_id,
            note=note,
            status="pending",
            created_at=now,
            updated_at=now,
        )
        .returning(friend_requests.c.id)
    )
    return int(result.scalar_one())


async def find_request(conn: AsyncConnection, request_id: int) -> RowMapping | None:
    query = select(friend_requests).where(friend_requests.c.id == request_id)
    return (await conn.execute(query)).mappings().first()


async def find_pending(
    conn: AsyncConnection, from_user_id: int, to_user_id: int
) -> RowMapping | None:
    query = (
        select(friend_requests)
        .where(
            friend_requests.c.from_user_id == from_user_id,
            friend_requests.c.to_user_id == to_user_id,
            friend_requests.c.status == "pending",
        )
        .order_by(friend_requests.c.id.desc())
    )
    return (await conn.execute(query)).mappings().first()


async def close_request(conn: AsyncConnection, request_id: int, status: str, now: int) -> bool:
    """Move a pending request to ``status``; False if someone answered it first."""
    result = await conn.execute(
        update(friend_requests)
        .where(friend_requests.c.id == request_id, friend_requests.c.status == "pending")
        .values(status=status, updated_at=now)
    )
    return result.rowcount == 1


async def close_pending_between(
    conn: AsyncConnection, user_a: int, user_b: int, status: str, now: int
) -> list[int]:
    """Close every pending request between two users (either direction); their ids."""
    between = or_(
        (friend_requests.c.from_user_id == user_a) & (friend_requests.c.to_user_id == user_b),
        (friend_requests.c.from_user_id == user_b) & (friend_requests.c.to_user_id == user_a),
    )
    query = select(friend_requests.c.id).where(between, friend_requests.c.status == "pending")
    ids = list((await conn.execute(query)).scalars())
    if ids:
        await conn.execute(
            update(friend_requests)
            .where(friend_requests.c.id.in_(ids))
            .values(status=status, updated_at=now)
        )
    return ids


async def list_requests(
    conn: AsyncConnection, user_id: int, *, incoming: bool, limit: int
) -> list[RowMapping]:
    """The newest requests to (``incoming``) or from the user, pending ones first."""
    column = friend_requests.c.to_user_id if incoming else friend_requests.c.from_user_id
    query = (
        select(friend_requests)
        .where(column == user_id)
        .order_by((friend_requests.c.status != "pending"), friend_requests.c.id.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).mappings())


# -- blocks -----------------------------------------------------------------------------


async def is_blocked(conn: AsyncConnection, user_id: int, blocked_id: int) -> bool:
    """True if ``user_id`` blocked ``blocked_id``."""
    query = select(blocks.c.user_id).where(
        blocks.c.user_id == user_id, blocks.c.blocked_id == blocked_id
    )
    return (await conn.execute(query)).first() is not None


async def insert_block(conn: AsyncConnection, user_id: int, blocked_id: int, now: int) -> bool:
    insert = _upsert_dialect(conn).insert(blocks)
    result = await conn.execute(
        insert.values(
            user_id=user_id, blocked_id=blocked_id, created_at=now
        ).on_conflict_do_nothing(index_elements=["user_id", "blocked_id"])
    )
    return result.rowcount == 1


async def delete_block(conn: AsyncConnection, user_id: int, blocked_id: int) -> bool:
    result = await conn.execute(
        delete(blocks).where(blocks.c.user_id == user_id, blocks.c.blocked_id == blocked_id)
    )
    return result.rowcount == 1


async def list_blocks(conn: AsyncConnection, user_id: int) -> list[RowMapping]:
    query = (
        select(blocks)
        .where(blocks.c.user_id == user_id)
        .order_by(blocks.c.created_at.desc(), blocks.c.blocked_id)
    )
    return list((await conn.execute(query)).mappings())


async def blockers_among(conn: AsyncConnection, user_ids: list[int], blocked_id: int) -> set[int]:
    """Which of ``user_ids`` blocked ``blocked_id``."""
    found: set[int] = set()
    for start in range(0, len(user_ids), 500):
        query = select(blocks.c.user_id).where(
            blocks.c.user_id.in_(user_ids[start : start + 500]), blocks.c.blocked_id == blocked_id
        )
        found.update((await conn.execute(query)).scalars())
    return found
