"""The context every action runs in, and transactions whose publications wait for the commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.handoff import Handoffs
from pigeon.actions.publisher import Publisher
from pigeon.actions.throttle import Limiter, MemoryLimiter
from pigeon.bus.notices import NoticeBook
from pigeon.bus.publication import Publication, to_users
from pigeon.bus.registry import Connections, GatewayDirectory, PresenceBook
from pigeon.bus.router import Router
from pigeon.common.batching import GroupCommit
from pigeon.common.outage import Outage
from pigeon.common.protocol.frames import ServerFrame
from pigeon.common.settings import Settings
from pigeon.storage.database import Database


@dataclass
class Outbox:
    """Publications an action wants sent once (and only if) its transaction commits."""

    publications: list[Publication] = field(default_factory=list)

    def add(self, publication: Publication) -> None:
        self.publications.append(publication)

    def push(
        self, frame: ServerFrame, user_ids: Iterable[int], exclude_connection: str | None = None
    ) -> None:
        """A frame for named users' devices."""
        self.add(to_users(frame, user_ids, exclude_connection=exclude_connection))


@dataclass
class Context:
    settings: Settings
    db: Database
    connections: Connections
    presence_book: PresenceBook
    directory: GatewayDirectory
    notices: NoticeBook
    router: Router
    publisher: Publisher
    handoffs: Handoffs
    limiter: Limiter = field(default_factory=MemoryLimiter)
    # Image decodes running at once in this process (uploads.max_concurrent_decodes).
    decode_slots: asyncio.Semaphore | None = None
    notice_outage: Outage = field(default_factory=lambda: Outage("notice_book"))
    # The group commit of sends (made by pigeon.actions.sending on first use).
    send_commit: GroupCommit[Any, Any] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[tuple[AsyncConnection, Outbox]]:
        """Run a block in one transaction; publish its outbox after the commit."""
        outbox = Outbox()
        async with self.db.transaction() as conn:
            yield conn, outbox
        await self.publish(outbox.publications)

    async def publish(self, publications: Sequence[Publication]) -> None:
        """Send publications on their way (committed ones, or ephemeral frames)."""
        await self.publisher.publish(publications)
