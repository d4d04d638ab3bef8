"""Routing: find the recipients' gateways and queue one entry for each.

The last step of every push (see :mod:`pigeon.actions.publisher`): the frame arrives
encoded, is queued once per gateway with the list of that gateway's users, and each
gateway writes it to its local sockets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pigeon.bus.delivery import Delivery
from pigeon.bus.queue import DeliveryQueue
from pigeon.bus.registry import Connections
from pigeon.common.clock import now_ms


@dataclass(frozen=True, slots=True)
class Push:
    """An encoded frame for named users (``exclude_connection``: the socket that caused it)."""

    frame: str
    user_ids: list[int]
    exclude_connection: str | None = None


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
        (reached,) = await self.push_many([Push(frame, user_ids, exclude_connection)])
        return reached

    async def push_many(self, pushes: Sequence[Push]) -> list[dict[str, list[int]]]:
        """Several pushes with one lookup of everyone's gateways and one enqueue for all
        (a batch of sends); who was reached where, for each push."""
        everyone = list(dict.fromkeys(uid for push in pushes for uid in push.user_ids))
        located = await self.connections.locate(everyone)
        gateways_of: dict[int, list[str]] = {}
        for gateway_id, users in located.items():
            for uid in users:
                gateways_of.setdefault(uid, []).append(gateway_id)
        queued_at = now_ms()
        entries: list[tuple[str, Delivery]] = []
        reached_by_push: list[dict[str, list[int]]] = []
        for push in pushes:
            reached: dict[str, list[int]] = {}
            for uid in dict.fromkeys(push.user_ids):
                for gateway_id in gateways_of.get(uid, ()):
                    reached.setdefault(gateway_id, []).append(uid)
            entries += [
                (
                    gateway_id,
                    Delivery(
                        frame=push.frame,
                        user_ids=users,
                        exclude_connection=push.exclude_connection,
                        queued_at=queued_at,
                    ),
                )
                for gateway_id, users in reached.items()
            ]
            reached_by_push.append(reached)
        await self.queue.push_many(entries)
        return reached_by_push

    async def locate_devices(self, user_ids: list[int]) -> dict[str, list[tuple[int, str]]]:
        """The connected devices among ``user_ids``' (user id, device id), by gateway."""
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
