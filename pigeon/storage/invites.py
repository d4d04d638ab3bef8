"""Queries for group invite links and the join requests of approval-only groups.

Callers hold the group's row lock (:func:`pigeon.storage.groups.lock_group`), so a
link's use count and a user's single pending request change one at a time.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import group_invites, group_join_requests


async def insert_invite(
    conn: AsyncConnection,
    *,
    token: str,
    group_id: int,
    created_by: int,
    now: int,
    expires_at: int | None,
    max_uses: int | None,
) -> None:
    await conn.execute(
        insert(group_invites).values(
            token=token,
            group_id=group_id,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
            max_uses=max_uses,
        )
    )


async def find_invite(conn: AsyncConnection, token: str) -> RowMapping | None:
    query = select(group_invites).where(group_invites.c.token == token)
    return (await conn.execute(query)).mappings().first()


async def list_invites(conn: AsyncConnection, group_id: int) -> list[RowMapping]:
    query = (
        select(group_invites)
        .where(group_invites.c.group_id == group_id)
        .order_by(group_invites.c.created_at, group_invites.c.token)
    )
    return list((await conn.execute(query)).mappings())


async def revoke_invite(conn: AsyncConnection, group_id: int, token: str, now: int) -> bool:
    """True if the group had that link."""
    invite = group_invites.c
    result = await conn.execute(
        update(group_invites)
        .where(invite.group_id == group_id, invite.token == token)
        .values(revoked_at=now)
    )
    return result.rowcount == 1


async def count_use(conn: AsyncConnection, token: str) -> None:
    await conn.execute(
        update(group_invites)
        .where(group_invites.c.token == token)
        .values(uses=group_invites.c.uses + 1)
    )


async def insert_request(
    conn: AsyncConnection, group_id: int, user_id: int, token: str, now: int
) -> None:
    await conn.execute(
        insert(group_join_requests).values(
            group_id=group_id, user_id=user_id, token=token, created_at=now
        )
    )


async def find_request(conn: AsyncConnection, group_id: int, user_id: int) -> RowMapping | None:
    request = group_join_requests.c
    query = select(group_join_requests).where(
        request.group_id == group_id, request.user_id == user_id
    )
    return (await conn.execute(query)).mappings().first()


async def list_requests(conn: AsyncConnection, group_id: int) -> list[RowMapping]:
    request = group_join_requests.c
    query = (
        select(group_join_requests)
        .where(request.group_id == group_id)
        .order_by(request.created_at, request.user_id)
    )
    return list((await conn.execute(query)).mappings())


async def delete_request(conn: AsyncConnection, group_id: int, user_id: int) -> None:
    request = group_join_requests.c
    await conn.execute(
        delete(group_join_requests).where(request.group_id == group_id, request.user_id == user_id)
    )
