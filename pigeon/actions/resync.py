"""After the bus lost pushes (Redis restarted, flushed or unreachable): what to re-announce.

The database holds every message; a client only needs to learn that a conversation moved
on. A gateway that notices the loss sends its sockets a ``notice`` (conversation, last seq)
for every conversation with messages since shortly before the trouble began; clients pull
when they are behind, and ignore the notice otherwise.
"""

from __future__ import annotations

from pigeon.actions.context import Context
from pigeon.storage import activity as store

CHUNK = 500


async def missed_activity(
    ctx: Context, user_ids: list[int], since_ms: int
) -> dict[int, list[tuple[int, int]]]:
    """Per user: (conversation id, last seq) of conversations active since ``since_ms``."""
    found: dict[int, list[tuple[int, int]]] = {}
    async with ctx.db.read() as conn:
        for start in range(0, len(user_ids), CHUNK):
            found.update(
                await store.recent_conversations(conn, user_ids[start : start + CHUNK], since_ms)
            )
    return found
