"""Queries that find text messages by substring, ranked, in the conversations given.

The caller says which conversations to look in and, for each, the seq after which its
messages may be shown (``Scope``): the visibility rule stays with the actions. A query is
a list of terms that must all occur (case-insensitively, as substrings).

Terms of three characters or more go through the trigram index (``0005`` migration):
FTS5 ranked by BM25 on SQLite, pg_trgm ranked by similarity on PostgreSQL. A query made of
shorter terms only (a 1-2 character Chinese or Japanese word) has no trigram to look up:
it is matched by scanning each conversation's newest messages (the caller bounds that in
the scope's floor) and ranked by recency alone (score 0).

Pages are keyset pages on (score, message id), best first and newer first on a tie.
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
    """A conversation to search, from ``floor`` (exclusive) on."""

    conversation_id: int
    floor: int


@dataclass(frozen=True)
class After:
    """Where the previous page ended: its last hit's score and message id."""

    score: float
    message_id: int


_KEYSET = "WHERE score < :score OR (score = :score AND id < :after_id)"
_PAGE = "ORDER BY score DESC, id DESC LIMIT :limit"

_SQLITE_SCOPE = (
    "WITH scope(cid, floor) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
    " FROM json_each(:scope))"
)
_SQLITE_TEXT = "json_extract(m.body, '$.text')"
# Driven by the index: the trigram doclists first, then each hit's row and scope.
_SQLITE_INDEXED = f"""{_SQLITE_SCOPE}
SELECT * FROM (
  SELECT m.*, -bm25(message_search) AS score
  FROM message_search CROSS JOIN messages m ON m.id = message_search.rowid
  JOIN scope s ON s.cid = m.conversation_id
  WHERE message_search MATCH :match AND m.seq > s.floor AND m.recalled_at IS NULL {{short}}
) {{keyset}} {_PAGE}"""
# Driven by the scope: each conversation's seq range through its (conversation, seq) key.
_SQLITE_SCAN = f"""{_SQLITE_SCOPE}
SELECT * FROM (
  SELECT m.*, 0.0 AS score
  FROM scope s CROSS JOIN messages m ON m.conversation_id = s.cid AND m.seq > s.floor
  WHERE m.kind = 'text' AND m.recalled_at IS NULL {{short}}
) {{keyset}} {_PAGE}"""

_PG_SCOPE = (
    "WITH scope AS (SELECT * FROM unnest(CAST(:cids AS bigint[]), CAST(:floors AS bigint[]))"
    " AS s(cid, floor))"
)
# The expression and predicate of ix_messages_text_trgm, so that the planner can use it.
_PG_TEXT = "((m.body::json) ->> 'text')"
_PG_QUERY = f"""{_PG_SCOPE}
SELECT * FROM (
  SELECT m.*, {{score}} AS score
  FROM messages m JOIN scope s ON s.cid = m.conversation_id
  WHERE m.kind = 'text' AND m.recalled_at IS NULL AND m.seq > s.floor {{terms}}
) found {{keyset}} {_PAGE}"""


async def find_texts(
    conn: AsyncConnection,
    scopes: list[Scope],
    terms: list[str],
    *,
    after: After | None,
    limit: int,
) -> list[RowMapping]:
    """Up to ``limit`` message rows holding every term, best first, each with a ``score``."""
    if not scopes or not terms:
        return []
    params: dict[str, object] = {"limit": limit}
    if after is not None:
        params |= {"score": after.score, "after_id": after.message_id}
    keyset = _KEYSET if after is not None else ""
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    short_terms = [t for t in terms if len(t) < TRIGRAM]
    if conn.dialect.name == "sqlite":
        params["scope"] = json.dumps([[s.conversation_id, s.floor] for s in scopes])
        short = ""
        for i, term in enumerate(short_terms):
            params[f"t{i}"] = term.lower()
            short += f" AND instr(lower({_SQLITE_TEXT}), :t{i}) > 0"
        if long_terms:
            params["match"] = " ".join(_fts_phrase(t) for t in long_terms)
            sql = _SQLITE_INDEXED.format(short=short, keyset=keyset)
        else:
            sql = _SQLITE_SCAN.format(short=short, keyset=keyset)
    else:
        params["cids"] = [s.conversation_id for s in scopes]
        params["floors"] = [s.floor for s in scopes]
        conditions = ""
        for i, term in enumerate(terms):
            if len(term) >= TRIGRAM:
                params[f"t{i}"] = "%" + _like_escape(term) + "%"
                conditions += f" AND {_PG_TEXT} ILIKE :t{i}"
            else:
                params[f"t{i}"] = term.lower()
                conditions += f" AND strpos(lower({_PG_TEXT}), :t{i}) > 0"
        score = "0.0::float8"
        if long_terms:
            params["whole"] = " ".join(long_terms)
            score = f"similarity({_PG_TEXT}, :whole)::float8"
        pg_keyset = keyset.replace(":score", "CAST(:score AS float8)")
        sql = _PG_QUERY.format(score=score, terms=conditions, keyset=pg_keyset)
    return list((await conn.execute(text(sql), params)).mappings())


def _fts_phrase(term: str) -> str:
    """An FTS5 string: with the trigram tokenizer, a substring match of ``term``."""
    return '"' + term.replace('"', '""') + '"'


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
