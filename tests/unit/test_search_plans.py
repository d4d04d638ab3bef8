"""Both ways of finding messages (index, scan) give the same hits in the same order, and
the index stays true through recalls (real SQLite, through the migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage import search
from pigeon.storage.database import Database
from pigeon.storage.messages import insert_message
from pigeon.storage.migrate import upgrade_async
from pigeon.storage.schema import conversations, messages

pytestmark = pytest.mark.asyncio

TEXTS = [
    "persimmon",
    "a ripe persimmon pie",
    "a ripe persimmon pie",
    "PERSIMMON season: persimmon jam and persimmon tea",
    "we walked along the river and found a persimmon tree",
    "东京的柿子很好吃",
    "東京タワーの近くで柿を買った",
    "nothing to see here",
]
INDEX = search.Plan(probe=1000, scan_max=10**6)
SCAN = search.Plan(probe=0, scan_max=10**6)


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[AsyncConnection]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'search.db'}"
    await upgrade_async(url)
    db = Database(url)
    async with db.transaction() as connection:
        for cid in (1, 2):
            await connection.execute(
                conversations.insert().values(id=cid, kind="group", created_at=0)
            )
        for seq, text in enumerate(TEXTS, start=1):
            for cid in (1, 2):
                await insert_message(
                    connection, conversation_id=cid, seq=seq, sender_id=None,
                    client_msg_id=None, kind="text", body={"text": text}, mentions=[],
                    mention_all=False, now=seq,
                )  # fmt: skip
        yield connection
    await db.dispose()


async def found(
    conn: AsyncConnection, terms: list[str], plan: search.Plan, *, floor: int = 0, limit: int = 50
) -> list[tuple[int, int, float]]:
    scopes = [search.Scope(1, floor, len(TEXTS))]
    rows = await search.find_texts(
        conn, scopes, terms, user_id=1, after=None, limit=limit, plan=plan
    )
    return [(r["conversation_id"], r["seq"], r["score"]) for r in rows]


@pytest.mark.parametrize(
    "terms", [["persimmon"], ["ripe", "pie"], ["東京タワー"], ["柿"], ["东京"], ["zzz"]]
)
async def test_index_and_scan_agree(conn: AsyncConnection, terms: list[str]) -> None:
    assert await found(conn, terms, INDEX) == await found(conn, terms, SCAN)


async def test_relevance_is_the_share_covered_then_newer_first(conn: AsyncConnection) -> None:
    hits = await found(conn, ["persimmon"], INDEX)
    assert [seq for _, seq, _ in hits] == [1, 4, 3, 2, 5]
    assert hits[0][2] == 1.0
    assert hits[1][2] == pytest.approx(27 / len(TEXTS[3]))  # three times, in any case
    assert all(cid == 1 for cid, _, _ in hits)  # conversation 2 is not in scope


async def test_the_floor_and_a_recall_hide_messages(conn: AsyncConnection) -> None:
    assert [seq for _, seq, _ in await found(conn, ["persimmon"], INDEX, floor=3)] == [4, 5]
    await conn.execute(
        update(messages).where(messages.c.conversation_id == 1, messages.c.seq == 4)
        .values(recalled_at=9)
    )  # fmt: skip
    for plan in (INDEX, SCAN):
        assert [seq for _, seq, _ in await found(conn, ["persimmon"], plan, floor=3)] == [5]
    integrity = "INSERT INTO message_search(message_search) VALUES ('integrity-check')"
    await conn.exec_driver_sql(integrity)


async def test_pages_follow_on_by_keyset(conn: AsyncConnection) -> None:
    whole = await found(conn, ["persimmon"], INDEX)
    scopes = [search.Scope(1, 0, len(TEXTS))]
    after = None
    paged: list[tuple[int, int, float]] = []
    for _ in range(5):
        rows = await search.find_texts(
            conn, scopes, ["persimmon"], user_id=1, after=after, limit=2, plan=SCAN
        )
        paged += [(r["conversation_id"], r["seq"], r["score"]) for r in rows]
        if len(rows) < 2:
            break
        after = search.After(rows[-1]["score"], rows[-1]["id"])
    assert paged == whole
