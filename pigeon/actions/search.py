"""Search the messages a user may see: ranked, paged by cursor, each hit in context.

What a user may see is decided by :func:`pigeon.actions.messages.history_floor`, the rule
history pages follow; recalled messages are not in the index (nor matched) at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from pigeon.actions.context import Context
from pigeon.actions.messages import history_floor
from pigeon.common.errors import InvalidCursor, InvalidQuery, NotMember
from pigeon.common.models import SearchHit, SearchPage
from pigeon.common.snippets import snippet
from pigeon.storage import conversations as conversation_store
from pigeon.storage import search as store
from pigeon.storage.messages import message_from_row


def parse_query(query: str, *, max_chars: int, max_terms: int) -> list[str]:
    """The terms (split at white space) that must all occur, or :class:`InvalidQuery`."""
    query = query.strip()
    if not query:
        raise InvalidQuery("the search query is empty")
    if len(query) > max_chars:
        raise InvalidQuery(f"search queries are limited to {max_chars} characters")
    if any(not ch.isprintable() for ch in query if not ch.isspace()):
        raise InvalidQuery("the search query holds control characters")
    terms = list(dict.fromkeys(query.split()))
    if len(terms) > max_terms:
        raise InvalidQuery(f"search queries are limited to {max_terms} words")
    return terms


def encode_cursor(after: store.After, fingerprint: str) -> str:
    raw = json.dumps([after.score, after.message_id, fingerprint], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> store.After:
    """The position a cursor holds; refused if it is garbled or from another search."""
    if len(cursor) > 200:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, message_id, printed = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor() from None
    valid = (
        isinstance(score, int | float)
        and not isinstance(score, bool)
        and isinstance(message_id, int)
        and not isinstance(message_id, bool)
        and 0 < message_id < 2**63
    )
    if not valid or printed != fingerprint:
        raise InvalidCursor()
    return store.After(float(score), message_id)


def _fingerprint(terms: list[str], conversation_id: int | None) -> str:
    """Ties a cursor to its search, so that another search refuses it rather than
    returning a page that makes no sense."""
    key = json.dumps([terms, conversation_id], ensure_ascii=False).encode()
    return hashlib.sha256(key).hexdigest()[:12]


async def search_messages(
    ctx: Context,
    user_id: int,
    query: str,
    *,
    conversation_id: int | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> SearchPage:
    """The caller's visible text messages holding every term of ``query``, best first:
    the share of the text the terms cover, then newer first (:mod:`pigeon.storage.search`).
    A query of 1-2 character terms only looks in each conversation's newest
    ``search.short_query_window`` messages."""
    settings = ctx.settings.search
    terms = parse_query(query, max_chars=settings.max_query_chars, max_terms=settings.max_terms)
    fingerprint = _fingerprint(terms, conversation_id)
    after = decode_cursor(cursor, fingerprint) if cursor is not None else None
    limit = max(1, min(limit, settings.page_limit_max))
    indexed = any(len(t) >= store.TRIGRAM for t in terms)
    async with ctx.db.read() as conn:
        memberships = await conversation_store.list_memberships(conn, user_id, conversation_id)
        if conversation_id is not None and not memberships:
            raise NotMember()
        scopes = [_scope(m, indexed, settings.short_query_window) for m in memberships]
        rows = await store.find_texts(
            conn,
            [s for s in scopes if s is not None],
            terms,
            user_id=user_id,
            after=after,
            limit=limit + 1,
            plan=store.Plan(probe=settings.index_probe, scan_max=settings.scan_max),
        )
    hits = [_hit(row, terms) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = hits[-1]
        next_cursor = encode_cursor(store.After(last.score, last.message.id), fingerprint)
    return SearchPage(hits=hits, next_cursor=next_cursor)


def _scope(membership: Any, indexed: bool, window: int) -> store.Scope | None:
    floor = history_floor(membership)
    if not indexed:
        floor = max(floor, membership["last_seq"] - window)
    if membership["last_seq"] <= floor:
        return None
    return store.Scope(membership["id"], floor, membership["last_seq"])


def _hit(row: Any, terms: list[str]) -> SearchHit:
    message = message_from_row(row)
    return SearchHit(
        message=message,
        snippet=snippet(str(message.body.get("text", "")), terms),
        score=float(row["score"]),
    )
