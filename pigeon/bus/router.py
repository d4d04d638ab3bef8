"""Routing: find the recipients' gateways and queue one entry for each.

The last step of every push (see :mod:`pigeon.actions.publisher`): the frame arrives
encoded, is queued once per gateway with the list of that gateway's users, and each
gateway writes it to its local sockets.
"""

from __future__ import annotations

from pigeon.bus.delivery import Delivery
from pigeon.bus.queue import DeliveryQueue
from pigeon.bus.registry import Connections
from pigeon.common.clock import now_ms


class Router:
    """Pushes encoded frames to users wherever they are connected; offline users are
    skipped (they find their messages by seq sync: the database already holds them)."""

    def __init__(self, connections: Connections, queue: DeliveryQueue) -> None:
        self.connections = connections
        self.queue = queue

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        """The connected ones among ``user_ids``, by gateway."""
        return await self.connections.locate(list(dict.fromkeys(user_ids)))

    async def push(
        self, frame: str, user_ids: list[int], *, exclude_connection: str | None = None
    ) -> dict[str, list[int]]:
        """Queue ``frame`` for every connected user in ``user_ids``; who was reached where."""
        by_gateway = await self.locate(user_ids)
        await self.push_located(frame, by_gateway, exclude_connection=exclude_connection)
        return by_gateway

    async def push_located(
        self,
        frame: str,
        by_gateway: dict[str, list[int]],
        *,
        exclude_connection: str | None = None,
    ) -> None:
        """Queue ``frame`` for users already located."""
        queued_at = now_ms()
        for gateway_id, users in by_gateway.items():
            if users:
                await self.queue.push(
                    gateway_id,
                    Delivery(
                        frame=frame,
                        user_ids=users,
                        exclude_connection=exclude_connection,
                        queued_at=queued_at,
                    ),
                )

    async def locate_devices(self, user_ids: list[int]) -> dict[str, list[tuple[int, str]]]:
        """The connected devices among ``user_ids``' (user id, device kind), by gateway."""
        return await self.connections.locate_devices(list(dict.fromkeys(user_ids)))

    async def push_to_devices(
        self,
        frame: str,
        by_gateway: dict[str, list[tuple[int, str]]],
        *,
        exclude_connection: str | None = None,
    ) -> None:
        """Queue ``frame`` for these devices only."""
        queued_at = now_ms()
        for gateway_id, targets in by_gateway.items():
            if targets:
                await self.queue.push(
                    gateway_id,
                    Delivery(
                        frame=frame,
                        user_ids=sorted({uid for uid, _device in targets}),
                        targets=targets,
                        exclude_connection=exclude_connection,
                        queued_at=queued_at,
                    ),
                )

    async def close(
        self,
        frame: str,
        user_id: int,
        code: int,
        *,
        connection_id: str | None = None,
        gateway_id: str | None = None,
        session_ids: list[str] | None = None,
    ) -> None:
        """Send ``frame`` as last words to one socket (``connection_id`` on ``gateway_id``)
        or to the user's sockets of these auth sessions, wherever they are, and close them."""
        gateways = [gateway_id] if gateway_id else list(await self.locate([user_id]))
        for gateway in gateways:
            await self.queue.push(
                gateway,
                Delivery(
                    frame=frame,
                    user_ids=[user_id],
                    close_connection=connection_id,
                    close_sessions=session_ids or [],
                    close_code=code,
                    queued_at=now_ms(),
                ),
            )
