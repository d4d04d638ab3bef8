"""The guarded seq allocation re-asserts the send rules in one statement (real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage import conversations as store
from pigeon.storage.database import Database
from pigeon.storage.migrate import upgrade_async
from pigeon.storage.schema import blocks, conversation_members, friendships, groups, users

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[AsyncConnection]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'guard.db'}"
    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as connection:
        for uid in (1, 2, 3):
            await connection.execute(
                users.insert().values(
                    id=uid,
                    username=f"u{uid}",
                    username_key=f"u{uid}",
                    password_hash="x",
                    created_at=0,
                    password_changed_at=0,
                )
            )
        yield connection
    await db.dispose()


async def guarded(
    conn: AsyncConnection,
    cid: int,
    sender: int,
    *,
    peer_id: int | None = None,
    require_friendship: bool = False,
    open_group: bool = False,
) -> int | None:
    return await store.allocate_seq_guarded(
        conn,
        cid,
        1,
        sender_id=sender,
        peer_id=peer_id,
        require_friendship=require_friendship,
        open_group=open_group,
    )


async def test_private_rules(conn: AsyncConnection) -> None:
    cid = await store.create_private(conn, 1, 2, now=0)
    assert await guarded(conn, cid, 1, peer_id=2) == 1
    assert await guarded(conn, cid, 3, peer_id=2) is None  # not a member
    assert await guarded(conn, cid, 1, peer_id=2, require_friendship=True) is None
    await conn.execute(friendships.insert().values(user_id=1, friend_id=2, created_at=0))
    assert await guarded(conn, cid, 1, peer_id=2, require_friendship=True) == 2
    await conn.execute(blocks.insert().values(user_id=2, blocked_id=1, created_at=0))
    assert await guarded(conn, cid, 1, peer_id=2) is None
    assert await guarded(conn, cid, 2, peer_id=1) == 3  # the blocker may still write


async def test_group_rules(conn: AsyncConnection) -> None:
    cid = await store.create_private(conn, 1, 3, now=0)
    await conn.execute(
        groups.insert().values(conversation_id=cid, name="g", owner_id=1, created_at=0)
    )
    assert await guarded(conn, cid, 1, open_group=True) == 1
    await conn.execute(conversation_members.delete().where(conversation_members.c.user_id == 3))
    assert await guarded(conn, cid, 3, open_group=True) is None
    await conn.execute(groups.update().values(dissolved_at=5))
    assert await guarded(conn, cid, 1, open_group=True) is None


async def test_group_mutes(conn: AsyncConnection) -> None:
    """A member's mute and mute-all hold in the write itself, not only in the checks."""
    cid = await store.create_private(conn, 1, 2, now=0)
    await conn.execute(
        groups.insert().values(conversation_id=cid, name="g", owner_id=1, created_at=0)
    )
    member = conversation_members.c
    await conn.execute(
        conversation_members.update().where(member.user_id == 1).values(role="owner")
    )
    mute_bob = conversation_members.update().where(member.user_id == 2)
    await conn.execute(mute_bob.values(send_muted_until=2))  # past "now" (1) at 2
    assert await guarded(conn, cid, 2, open_group=True) is None
    await conn.execute(mute_bob.values(send_muted_until=1))  # over by now
    assert await guarded(conn, cid, 2, open_group=True) == 1
    await conn.execute(groups.update().values(muted_all=True))
    assert await guarded(conn, cid, 2, open_group=True) is None
    assert await guarded(conn, cid, 1, open_group=True) == 2  # the owner still speaks
    await conn.execute(
        conversation_members.update().where(member.user_id == 2).values(role="admin")
    )
    assert await guarded(conn, cid, 2, open_group=True) == 3  # and so do admins
