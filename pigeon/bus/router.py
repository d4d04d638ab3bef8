"""Routing after commit: find the recipients' gateways and queue one entry for each."""

from __future__ import annotations

from collections.abc import Iterable

from pigeon.bus.delivery import Delivery
from pigeon.bus.queue import DeliveryQueue
from pigeon.bus.registry import Registry
from pigeon.common.clock import now_ms
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import ServerFrame


class Router:
    """Pushes frames to users wherever they are connected; offline users are skipped.

    Push is the fast path, not the guarantee: a user who misses a push (offline, gateway
    died) finds the message by seq sync, because the database already holds it.
    """

    def __init__(self, registry: Registry, queue: DeliveryQueue) -> None:
        self.registry = registry
        self.queue = queue

    async def push(
        self,
        frame: ServerFrame,
        user_ids: Iterable[int],
        *,
        exclude_connection: str | None = None,
    ) -> int:
        """Queue ``frame`` for every connected user in ``user_ids``; return gateways hit."""
        by_gateway = await self.registry.locate(list(dict.fromkeys(user_ids)))
        await self._queue_all(frame, by_gateway, exclude_connection)
        return len(by_gateway)

    async def push_reporting(
        self,
        frame: ServerFrame,
        user_ids: Iterable[int],
        *,
        exclude_connection: str | None = None,
    ) -> dict[int, bool]:
        """Like :meth:`push`, and say for each user whether the frame was handed to a
        gateway holding one of their sockets (True) or they had none (False).

        "Handed to" means queued for that gateway: the socket may still drop before the
        gateway writes to it; the database and seq sync cover that case.
        """
        wanted = list(dict.fromkeys(user_ids))
        by_gateway = await self.registry.locate(wanted)
        await self._queue_all(frame, by_gateway, exclude_connection)
        online = {uid for users in by_gateway.values() for uid in users}
        return {uid: uid in online for uid in wanted}

    async def _queue_all(
        self,
        frame: ServerFrame,
        by_gateway: dict[str, list[int]],
        exclude_connection: str | None,
    ) -> None:
        if not by_gateway:
            return
        encoded = encode_server_frame(frame)
        for gateway_id, users in by_gateway.items():
            await self.queue.push(
                gateway_id,
                Delivery(
                    frame=encoded,
                    user_ids=users,
                    exclude_connection=exclude_connection,
                    queued_at=now_ms(),
                ),
            )

    async def close_connection(
        self, gateway_id: str, user_id: int, connection_id: str, frame: ServerFrame, code: int
    ) -> None:
        """Ask a gateway to send ``frame`` to one socket and close it with ``code``."""
        await self.queue.push(
            gateway_id,
            Delivery(
                frame=encode_server_frame(frame),
                user_ids=[user_id],
                close_connection=connection_id,
                close_code=code,
                queued_at=now_ms(),
            ),
        )

    async def close_sessions(
        self, user_id: int, session_ids: list[str], frame: ServerFrame, code: int
    ) -> None:
        """Close a user's sockets that belong to these auth sessions, on every gateway."""
        by_gateway = await self.registry.locate([user_id])
        encoded = encode_server_frame(frame)
        for gateway_id in by_gateway:
            await self.queue.push(
                gateway_id,
                Delivery(
                    frame=encoded,
                    user_ids=[user_id],
                    close_sessions=session_ids,
                    close_code=code,
                    queued_at=now_ms(),
                ),
            )
