"""Queries for accounts and their refresh sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.common.models import User
from pigeon.storage.schema import auth_sessions, refresh_tokens, users

USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.nickname,
    users.c.avatar_url,
    users.c.signature,
    users.c.created_at,
)


def user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        nickname=row["nickname"],
        avatar_url=row["avatar_url"],
        signature=row["signature"],
        created_at=row["created_at"],
    )


async def insert_user(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(users.insert().values(**values).returning(users.c.id))
    return int(result.scalar_one())


async def find_user_by_username(conn: AsyncConnection, username: str) -> RowMapping | None:
    result = await conn.execute(select(users).where(users.c.username_key == username.lower()))
    return result.mappings().first()


async def find_user_row(conn: AsyncConnection, user_id: int) -> RowMapping | None:
    result = await conn.execute(select(users).where(users.c.id == user_id))
    return result.mappings().first()


async def get_users(conn: AsyncConnection, user_ids: list[int]) -> dict[int, User]:
    if not user_ids:
        return {}
    result = await conn.execute(select(*USER_COLUMNS).where(users.c.id.in_(set(user_ids))))
    return {row["id"]: user_from_row(row) for row in result.mappings()}


async def search_users(conn: AsyncConnection, text: str, limit: int) -> list[User]:
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern += "%"
    query = (
        select(*USER_COLUMNS)
        .where(
            or_(
                users.c.username_key.like(pattern, escape="\\"),
                func.lower(users.c.nickname).like(pattern, escape="\\"),
            )
        )
        .order_by(users.c.username_key)
        .limit(limit)
    )
    result = await conn.execute(query)
    return [user_from_row(row) for row in result.mappings()]


async def update_user(conn: AsyncConnection, user_id: int, **values: Any) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(**values))


async def insert_session(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(auth_sessions.insert().values(**values))


async def find_session(conn: AsyncConnection, session_id: str) -> RowMapping | None:
    result = await conn.execute(select(auth_sessions).where(auth_sessions.c.id == session_id))
    return result.mappings().first()


async def revoke_sessions(
    conn: AsyncConnection, user_id: int, now: int, *, keep: str | None = None
) -> list[str]:
    """Revoke every live session of a user except ``keep``; return the revoked ids."""
    query = select(auth_sessions.c.id).where(
        auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(auth_sessions.c.id != keep)
    ids = list((await conn.execute(query)).scalars())
    if ids:
        await conn.execute(
            update(auth_sessions).where(auth_sessions.c.id.in_(ids)).values(revoked_at=now)
        )
    return ids


async def revoke_session(conn: AsyncConnection, session_id: str, now: int) -> None:
    await conn.execute(
        update(auth_sessions)
        .where(auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def insert_refresh_token(
    conn: AsyncConnection, token_hash: str, session_id: str, now: int
) -> None:
    await conn.execute(
        refresh_tokens.insert().values(token_hash=token_hash, session_id=session_id, issued_at=now)
    )


async def find_refresh_token(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    query = (
        select(
            refresh_tokens,
            auth_sessions.c.user_id,
            auth_sessions.c.device,
            auth_sessions.c.expires_at,
            auth_sessions.c.revoked_at,
        )
        .join(auth_sessions, auth_sessions.c.id == refresh_tokens.c.session_id)
        .where(refresh_tokens.c.token_hash == token_hash)
    )
    return (await conn.execute(query)).mappings().first()


async def mark_refresh_token_rotated(conn: AsyncConnection, token_hash: str, now: int) -> bool:
    """Mark a token used; False if another request rotated it first."""
    result = await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    return result.rowcount == 1


async def list_live_sessions(conn: AsyncConnection, user_id: int, now: int) -> list[RowMapping]:
    """The user's devices: sessions neither revoked nor expired, newest first."""
    query = (
        select(auth_sessions)
        .where(
            auth_sessions.c.user_id == user_id,
            auth_sessions.c.revoked_at.is_(None),
            auth_sessions.c.expires_at > now,
        )
        .order_by(auth_sessions.c.created_at.desc(), auth_sessions.c.id)
    )
    return list((await conn.execute(query)).mappings())


async def rename_session(conn: AsyncConnection, session_id: str, name: str) -> None:
    await conn.execute(
        update(auth_sessions).where(auth_sessions.c.id == session_id).values(name=name)
    )


async def touch_session(conn: AsyncConnection, session_id: str, now: int) -> None:
    """The device was active now (a socket of it closed, its tokens were refreshed)."""
    await conn.execute(
        update(auth_sessions).where(auth_sessions.c.id == session_id).values(last_active_at=now)
    )
