"""Queries that find text messages by substring, ranked, in the conversations given.

The caller says which conversations to look in and, for each, the seq range whose
messages may be shown (``Scope``): the visibility rule stays with the actions. A query is
a list of terms that must all occur (case-insensitively, as substrings).

Two ways to find them, chosen per query by what each would cost:

- **index**: the trigram index (migration ``0006``: FTS5 on SQLite, pg_trgm on
  PostgreSQL) gives the messages holding the terms of three characters or more,
  wherever they are; they are then kept if they are in scope. Cheap when the terms are
  rare, and independent of how much the caller may see.
- **scan**: the caller's visible messages, conversation by conversation through the
  ``(conversation_id, seq)`` key, each tested for the terms. Cost bounded by what the
  caller may see. The only way for terms of 1-2 characters (no trigram to look up), and
  the cheaper one for common words: ``meeting`` is in tens of thousands of messages,
  of which a user sees a few hundred.

A query takes the index unless the index holds more than ``probe`` candidates for it (a
count that stops at ``probe``) while the caller sees at most ``scan_max`` messages.

The relevance is the same whichever way was taken, and in both databases: the share of
the message's text that the terms cover (``persimmon`` alone beats ``a ripe persimmon
pie``), then the newer message first. It depends on nothing but the message, so cursors
stay exact while messages arrive. Pages are keyset pages on (score, message id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

# Below this many characters a term has no trigram to look up.
TRIGRAM = 3


@dataclass(frozen=True)
class Scope:
    """A conversation to search: the messages with ``floor`` < seq <= ``last_seq``."""

    conversation_id: int
    floor: int
    last_seq: int


@dataclass(frozen=True)
class After:
    """Where the previous page ended: its last hit's score and message id."""

    score: float
    message_id: int


@dataclass(frozen=True)
class Plan:
    """How hard to try the index before scanning instead (settings ``search.*``)."""

    probe: int
    scan_max: int


# Deleted for oneself (``hidden_messages``): history shows such a message masked, search
# does not find it.
_NOT_HIDDEN = (
    " AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = :uid"
    " AND h.conversation_id = m.conversation_id AND h.seq = m.seq)"
)
_KEYSET = "WHERE score < :score OR (score = :score AND id < :after_id)"
_PAGE = "ORDER BY score DESC, id DESC LIMIT :limit"

_SQLITE_SCOPE = (
    "WITH scope(cid, floor) AS MATERIALIZED (SELECT json_extract(value, '$[0]'),"
    " json_extract(value, '$[1]') FROM json_each(:scope))"
)
_SQLITE_TEXT = "json_extract(m.body, '$.text')"
# The index's hits first, then each one's row, then its scope.
_SQLITE_INDEXED = f"""{_SQLITE_SCOPE}
SELECT * FROM (
  SELECT m.*, {{score}} AS score
  FROM message_search CROSS JOIN messages m ON m.id = message_search.rowid
  JOIN scope s ON s.cid = m.conversation_id
  WHERE message_search MATCH :match AND m.seq > s.floor AND m.recalled_at IS NULL {{terms}}
) {{keyset}} {_PAGE}"""
# Each conversation's seq range through its (conversation, seq) key.
_SQLITE_SCAN = f"""{_SQLITE_SCOPE}
SELECT * FROM (
  SELECT m.*, {{score}} AS score
  FROM scope s CROSS JOIN messages m ON m.conversation_id = s.cid AND m.seq > s.floor
  WHERE m.kind = 'text' AND m.recalled_at IS NULL {{terms}}
) {{keyset}} {_PAGE}"""
_SQLITE_PROBE = (
    "SELECT count(*) FROM (SELECT 1 FROM message_search WHERE message_search MATCH :match"
    " LIMIT :probe)"
)

_PG_SCOPE = (
    "WITH scope AS MATERIALIZED (SELECT * FROM"
    " unnest(CAST(:cids AS bigint[]), CAST(:floors AS bigint[])) AS s(cid, floor))"
)
# The expression and predicate of ix_messages_text_trgm, so that the planner can use it.
_PG_TEXT = "((m.body::json) ->> 'text')"
_PG_INDEXED_WHERE = "m.kind = 'text' AND m.recalled_at IS NULL {like}"
_PG_QUERY = f"""{_PG_SCOPE}
SELECT * FROM (
  SELECT m.*, {{score}} AS score
  FROM messages m JOIN scope s ON s.cid = m.conversation_id
  WHERE m.kind = 'text' AND m.recalled_at IS NULL AND m.seq > s.floor {{terms}}
) found {{keyset}} {_PAGE}"""
_PG_PROBE = (
    f"SELECT count(*) FROM (SELECT 1 FROM messages m WHERE {_PG_INDEXED_WHERE} LIMIT :probe) x"
)


async def find_texts(
    conn: AsyncConnection,
    scopes: list[Scope],
    terms: list[str],
    *,
    user_id: int,
    after: After | None,
    limit: int,
    plan: Plan,
) -> list[RowMapping]:
    """Up to ``limit`` message rows holding every term, best first, each with a ``score``;
    none that ``user_id`` deleted for themselves."""
    if not scopes or not terms:
        return []
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    params: dict[str, object] = {"limit": limit, "probe": plan.probe + 1, "uid": user_id}
    params |= {f"t{i}": term.lower() for i, term in enumerate(terms)}
    if after is not None:
        params |= {"score": after.score, "after_id": after.message_id}
    keyset = _KEYSET if after is not None else ""
    visible = sum(s.last_seq - s.floor for s in scopes)
    sqlite = conn.dialect.name == "sqlite"
    column = _SQLITE_TEXT if sqlite else _PG_TEXT
    # Every term tested on the text (the index only narrows), and the share it covers.
    tests = "".join(f" AND {_contains(column, i, sqlite)}" for i in range(len(terms)))
    tests += _NOT_HIDDEN
    score = _coverage(column, len(terms))
    if sqlite:
        params["scope"] = json.dumps([[s.conversation_id, s.floor] for s in scopes])
        params["match"] = " ".join(_fts_phrase(t) for t in long_terms)
        use_index = bool(long_terms) and (
            visible > plan.scan_max or await _few(conn, _SQLITE_PROBE, params, plan.probe)
        )
        sql = (_SQLITE_INDEXED if use_index else _SQLITE_SCAN).format(
            score=score, terms=tests, keyset=keyset
        )
    else:
        params["cids"] = [s.conversation_id for s in scopes]
        params["floors"] = [s.floor for s in scopes]
        like = ""
        for i, term in enumerate(long_terms):
            params[f"like{i}"] = "%" + _like_escape(term) + "%"
            like += f" AND {_PG_TEXT} ILIKE :like{i}"
        probe = _PG_PROBE.format(like=like)
        use_index = bool(long_terms) and (
            visible > plan.scan_max or await _few(conn, probe, params, plan.probe)
        )
        score = f"({score})::float8"
        keyset = keyset.replace(":score", "CAST(:score AS float8)")
        sql = _PG_QUERY.format(
            score=score, terms=(like if use_index else "") + tests, keyset=keyset
        )
    return list((await conn.execute(text(sql), params)).mappings())


async def _few(conn: AsyncConnection, probe: str, params: dict[str, object], most: int) -> bool:
    """Whether the index holds at most ``most`` candidates (it stops counting past them)."""
    found = (await conn.execute(text(probe), params)).scalar_one()
    return int(found) <= most


def _contains(column: str, i: int, sqlite: bool) -> str:
    """A substring test no index answers (on PostgreSQL the planner then keeps to the
    scope's key instead of the trigram index)."""
    if sqlite:
        return f"instr(lower({column}), :t{i}) > 0"
    return f"strpos(lower({column}), :t{i}) > 0"


def _coverage(column: str, count: int) -> str:
    """The share of the text the terms cover: the characters that removing every
    occurrence of each term takes away, over the text's length."""
    removed = " + ".join(
        f"(length({column}) - length(replace(lower({column}), :t{i}, '')))" for i in range(count)
    )
    return f"(1.0 * ({removed}) / length({column}))"


def _fts_phrase(term: str) -> str:
    """An FTS5 string: with the trigram tokenizer, a substring match of ``term``."""
    return '"' + term.replace('"', '""') + '"'


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
