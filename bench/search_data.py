"""The corpus of ``python -m bench search``: a million messages in English, Chinese and
Japanese over many conversations, written straight into the database.

The searchers are real users (registered through the API, so they can log in); the rest
of the data is written with SQL, fast: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
The search indexes are kept by the database itself (triggers, an expression index) while
rows go in, exactly as when messages are sent.

Needles are planted for every searcher: a word that occurs nowhere else, once where the
searcher may see it and also where they may not (before their joining, recalled, in a
conversation they are not in). The corpus the searchers may see is kept in memory so that
the results can be checked exactly.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


EN = words("""
the a to and of meeting project report deadline coffee lunch dinner tomorrow today
please thanks review merge deploy server client database release bug fix test build
design budget travel flight hotel weekend family photo music movie game soccer weather
rain sunny office remote call schedule update draft final agenda customer invoice
payment contract launch marketing sales team manager holiday birthday party kitchen
garden library station airport ticket museum river mountain beach autumn winter spring
summer morning evening night quickly slowly maybe really great awesome
""")
ZH = words("""
我们 明天 今天 会议 项目 报告 下午 上午 晚上 周末 东京 北京 上海 咖啡 午饭
晚饭 同事 老板 客户 合同 预算 设计 测试 发布 服务器 数据库 问题 解决 需要
已经 可以 记得 带上 文件 时间 地点 安排 旅行 酒店 机票 天气 下雨 朋友 家人
照片 电影 音乐 比赛 生日 聚会 厨房 图书馆 车站 机场 博物馆 河边 山上 海边
秋天 冬天 春天 夏天
""")
JA = words("""
今日 明日 会議 資料 報告 午後 午前 週末 東京 大阪 京都 コーヒー ランチ 夕食
同僚 部長 お客様 契約 予算 設計 テスト リリース サーバー データベース 問題
解決 天気 雨 友達 家族 写真 映画 音楽 試合 誕生日 パーティー 台所 図書館 駅
空港 博物館 川 山 海 秋 冬 春 夏 タワー 電車 新幹線 ラーメン 寿司 桜 花見
""")
JA_PARTICLES = ("は", "が", "を", "に", "で", "と", "の", "も")
# Characters the corpus never uses, for needles no ordinary message holds.
RARE = "鵺鶚鸞鷲鸚鵡鶺鴒鵯鶫龘龖麤靐齉驫"


@dataclass
class Corpus:
    """What was loaded, as far as the checks need it."""

    conversations: int
    messages: int
    # searcher user id -> {conversation id: visible_from_seq}
    floors: dict[int, dict[int, int]] = field(default_factory=dict)
    last_seq: dict[int, int] = field(default_factory=dict)
    # (conversation id, seq) -> (load order, text), for the searchers' conversations only
    texts: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)
    recalled: set[tuple[int, int]] = field(default_factory=set)
    # searcher -> (needle, (conversation id, seq) where the searcher may see it)
    needles: dict[int, list[tuple[str, tuple[int, int]]]] = field(default_factory=dict)
    planted: dict[tuple[int, int], tuple[str, bool]] = field(default_factory=dict)


def sentence(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        words = rng.choices(EN, k=rng.randint(4, 14))
        return " ".join(words).capitalize()
    if roll < 0.75:
        words = rng.choices(ZH, k=rng.randint(3, 10))
        return "".join(words) + rng.choice("。！？，")  # noqa: RUF001
    parts: list[str] = []
    for _ in range(rng.randint(2, 6)):
        parts += [rng.choice(JA), rng.choice(JA_PARTICLES)]
    return "".join(parts) + rng.choice("。！？")  # noqa: RUF001


@dataclass(frozen=True)
class Row:
    conversation_id: int
    seq: int
    sender_id: int
    text: str
    created_at: int
    recalled: bool


def choose(corpus: Corpus, searchers: list[int], member_of: int, seed: int) -> list[int]:
    """Conversation sizes, the searchers' memberships and the needles; the sizes."""
    rng = random.Random(seed)
    sizes = [rng.randint(20, 180) for _ in range(corpus.conversations)]
    scale = corpus.messages / sum(sizes)
    sizes = [max(4, round(s * scale)) for s in sizes]
    # Each searcher is in ``member_of`` conversations, a third of them joined midway.
    for user in searchers:
        chosen = rng.sample(range(2, corpus.conversations + 1), member_of)
        floors = {cid: (sizes[cid - 1] // 2 if i % 3 == 0 else 0) for i, cid in enumerate(chosen)}
        corpus.floors[user] = floors
        corpus.needles[user] = []
    corpus.planted = _plant(corpus, searchers, sizes, rng)
    corpus.messages = sum(sizes)
    return sizes


def rows(
    corpus: Corpus, sizes: list[int], sender_ids: list[int], seed: int, start_ms: int
) -> Iterator[Row]:
    """Every message in load (time) order, the conversations interleaved; keeps the
    searchers' conversations in ``corpus`` for the checks."""
    rng = random.Random(seed + 1)
    order = [cid for cid, size in enumerate(sizes, start=1) for _ in range(size)]
    rng.shuffle(order)
    watched = {cid for floors in corpus.floors.values() for cid in floors}
    seqs = [0] * (corpus.conversations + 1)
    for n, cid in enumerate(order):
        seqs[cid] += 1
        seq = seqs[cid]
        text, recalled = corpus.planted.get((cid, seq), (sentence(rng), rng.random() < 0.005))
        if cid in watched:
            corpus.texts[(cid, seq)] = (n, text)
            if recalled:
                corpus.recalled.add((cid, seq))
        yield Row(cid, seq, rng.choice(sender_ids), text, start_ms + n, recalled)
    corpus.last_seq = {cid: seqs[cid] for cid in range(1, corpus.conversations + 1)}


def _plant(
    corpus: Corpus, searchers: list[int], sizes: list[int], rng: random.Random
) -> dict[tuple[int, int], tuple[str, bool]]:
    """Needles: for each searcher and script, one visible place and three invisible ones
    (before joining, recalled, in conversation 1 which no searcher is in)."""
    planted: dict[tuple[int, int], tuple[str, bool]] = {}
    used: set[tuple[int, int]] = set()

    def spot(cid: int, low: int, high: int) -> tuple[int, int]:
        for _ in range(1000):
            key = (cid, rng.randint(low, high))
            if key not in used:
                used.add(key)
                return key
        raise RuntimeError("no free place for a needle")

    for user in searchers:
        floors = corpus.floors[user]
        joined_late = next(cid for cid, floor in floors.items() if floor > 0)
        for script in ("en", "zh", "ja"):
            word = "".join(rng.choices(RARE, k=5))
            if script == "en":
                word = "zq" + "".join(rng.choices("bcdfghjklmnpvwx", k=8))
            shown = spot(joined_late, floors[joined_late] + 1, sizes[joined_late - 1])
            host = sentence(rng)
            planted[shown] = (f"{host[:8]} {word} {host[8:]}", False)
            planted[spot(joined_late, 1, floors[joined_late])] = (f"old {word}", False)
            gone = rng.choice(list(floors))
            planted[spot(gone, floors[gone] + 1, sizes[gone - 1])] = (f"gone {word}", True)
            planted[spot(1, 1, sizes[0])] = (f"elsewhere {word}", False)
            corpus.needles[user].append((word, shown))
    return planted


# --- writing it -------------------------------------------------------------------------

BATCH = 20_000


def _users(count: int, start_ms: int) -> list[tuple[str, str, str, int, int]]:
    return [(f"filler{i}", f"filler{i}", "x", start_ms, start_ms) for i in range(count)]


RowsFor = Callable[[list[int]], Iterator[Row]]  # the messages, given the senders' ids


def load_sqlite(
    path: Path,
    make_rows: RowsFor,
    corpus: Corpus,
    fillers: int,
    start_ms: int,
    on_batch: Callable[[int], object],
) -> list[int]:
    """Write the corpus into the embedded server's database; the senders' ids."""
    db = sqlite3.connect(path, timeout=60)
    try:
        db.execute("PRAGMA synchronous=OFF")
        with db:
            db.executemany(
                "INSERT INTO users (username, username_key, password_hash, created_at,"
                " password_changed_at) VALUES (?, ?, ?, ?, ?)",
                _users(fillers, start_ms),
            )
            first = db.execute("SELECT min(id) FROM users WHERE username LIKE 'filler%'")
            first_id = int(first.fetchone()[0])
            _conversations_sqlite(db, corpus, first_id, start_ms)
        batch: list[tuple[object, ...]] = []
        for row in make_rows(list(range(first_id, first_id + fillers))):
            batch.append(_message(row))
            if len(batch) == BATCH:
                _insert_sqlite(db, batch)
                on_batch(len(batch))
                batch = []
        _insert_sqlite(db, batch)
        on_batch(len(batch))
        with db:
            db.executemany(
                "UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?",
                [(seq, start_ms + corpus.messages, cid) for cid, seq in corpus.last_seq.items()],
            )
            db.executemany(
                "UPDATE conversation_members SET read_seq = ? WHERE conversation_id = ?",
                [(seq, cid) for cid, seq in corpus.last_seq.items()],
            )
    finally:
        db.close()
    return list(range(first_id, first_id + fillers))


def _message(row: Row) -> tuple[object, ...]:
    body = json.dumps({"text": row.text}, ensure_ascii=False, separators=(",", ":"))
    recalled = row.created_at if row.recalled else None
    return (row.conversation_id, row.seq, row.sender_id, "text", body, row.created_at, recalled)


_MESSAGE_COLUMNS = ("conversation_id", "seq", "sender_id", "kind", "body", "created_at")


def _insert_sqlite(db: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
    with db:
        db.executemany(
            f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)}, recalled_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )


def _conversations_sqlite(db: sqlite3.Connection, corpus: Corpus, owner: int, now: int) -> None:
    ids = range(1, corpus.conversations + 1)
    db.executemany(
        "INSERT INTO conversations (id, kind, created_at) VALUES (?, 'group', ?)",
        [(cid, now) for cid in ids],
    )
    db.executemany(
        "INSERT INTO groups (conversation_id, name, owner_id, member_count, created_at)"
        " VALUES (?, ?, ?, 2, ?)",
        [(cid, f"group {cid}", owner, now) for cid in ids],
    )
    db.executemany(
        "INSERT INTO conversation_members (conversation_id, user_id, visible_from_seq,"
        " read_seq, joined_at) VALUES (?, ?, ?, ?, ?)",
        [
            (cid, user, floor, floor, now)
            for user, floors in corpus.floors.items()
            for cid, floor in floors.items()
        ],
    )


async def load_postgres(
    url: str,
    make_rows: RowsFor,
    corpus: Corpus,
    fillers: int,
    start_ms: int,
    on_batch: Callable[[int], object],
) -> list[int]:
    """The same on PostgreSQL, by COPY; then VACUUM ANALYZE, as autovacuum would."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        ids = await conn.fetch(
            "INSERT INTO users (username, username_key, password_hash, created_at,"
            " password_changed_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
            " $4::bigint[], $5::bigint[]) RETURNING id",
            *map(list, zip(*_users(fillers, start_ms), strict=True)),
        )
        filler_ids = sorted(int(r["id"]) for r in ids)
        cids = list(range(1, corpus.conversations + 1))
        await conn.copy_records_to_table(
            "conversations",
            records=[(cid, "group", start_ms) for cid in cids],
            columns=["id", "kind", "created_at"],
        )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('conversations', 'id'), $1)", len(cids)
        )
        await conn.copy_records_to_table(
            "groups",
            records=[(cid, f"group {cid}", filler_ids[0], 2, start_ms) for cid in cids],
            columns=["conversation_id", "name", "owner_id", "member_count", "created_at"],
        )
        await conn.copy_records_to_table(
            "conversation_members",
            records=[
                (cid, user, floor, floor, start_ms)
                for user, floors in corpus.floors.items()
                for cid, floor in floors.items()
            ],
            columns=["conversation_id", "user_id", "visible_from_seq", "read_seq", "joined_at"],
        )
        batch: list[tuple[object, ...]] = []
        columns = [*_MESSAGE_COLUMNS, "recalled_at"]
        for row in make_rows(filler_ids):
            batch.append(_message(row))
            if len(batch) == BATCH:
                await conn.copy_records_to_table("messages", records=batch, columns=columns)
                on_batch(len(batch))
                batch = []
        await conn.copy_records_to_table("messages", records=batch, columns=columns)
        on_batch(len(batch))
        await conn.executemany(
            "UPDATE conversations SET last_seq = $1, last_message_at = $2 WHERE id = $3",
            [(seq, start_ms + corpus.messages, cid) for cid, seq in corpus.last_seq.items()],
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return filler_ids
