"""Queries presence needs: who should hear about a user's online status, and last seen."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import friendships, users


async def friends_of(conn: AsyncConnection, user_ids: list[int]) -> dict[int, list[int]]:
    """Each user's friends (one row per direction, so ``user_id`` lists them all)."""
    found: dict[int, list[int]] = defaultdict(list)
    if not user_ids:
        return found
    query = select(friendships.c.user_id, friendships.c.friend_id).where(
        friendships.c.user_id.in_(user_ids)
    )
    for user_id, friend_id in (await conn.execute(query)).all():
        found[user_id].append(friend_id)
    return found


async def friends_among(conn: AsyncConnection, user_id: int, candidates: list[int]) -> set[int]:
    """Those of ``candidates`` who are friends of ``user_id``."""
    if not candidates:
        return set()
    query = select(friendships.c.friend_id).where(
        friendships.c.user_id == user_id, friendships.c.friend_id.in_(candidates)
    )
    return set((await conn.execute(query)).scalars().all())


async def record_last_seen(conn: AsyncConnection, user_ids: list[int], ts: int) -> None:
    """These users' last device went offline at ``ts``."""
    if user_ids:
        await conn.execute(update(users).where(users.c.id.in_(user_ids)).values(last_seen_at=ts))


async def last_seen_of(conn: AsyncConnection, user_ids: list[int]) -> dict[int, int]:
    """When each of these users was last seen (absent: never, since last seen was kept)."""
    if not user_ids:
        return {}
    query = select(users.c.id, users.c.last_seen_at).where(
        users.c.id.in_(user_ids), users.c.last_seen_at.is_not(None)
    )
    return {uid: int(ts) for uid, ts in (await conn.execute(query)).all()}
