"""In-process registry and queues: the embedded single-process mode."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

from pigeon.bus.delivery import Delivery, Location


class MemoryRegistry:
    """Connections of this process; nothing expires because nothing can die apart."""

    def __init__(self) -> None:
        self._by_user: dict[int, dict[str, Location]] = defaultdict(dict)

    async def register(self, user_id: int, location: Location) -> Location | None:
        devices = self._by_user[user_id]
        previous = devices.get(location.device)
        devices[location.device] = location
        return previous

    async def unregister(self, user_id: int, location: Location) -> bool:
        devices = self._by_user.get(user_id)
        if not devices or devices.get(location.device) != location:
            return False
        del devices[location.device]
        if not devices:
            del self._by_user[user_id]
        return True

    async def refresh(self, entries: list[tuple[int, Location]]) -> None:
        return None

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for user_id in user_ids:
            gateways = {loc.gateway_id for loc in self._by_user.get(user_id, {}).values()}
            for gateway_id in gateways:
                found[gateway_id].append(user_id)
        return dict(found)

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        return {uid: sorted(self._by_user[uid]) for uid in user_ids if self._by_user.get(uid)}


class MemoryQueue:
    """One unbounded asyncio queue per gateway id."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[Delivery]] = defaultdict(asyncio.Queue)

    async def push(self, gateway_id: str, delivery: Delivery) -> None:
        self._queues[gateway_id].put_nowait(delivery)

    async def consume(self, gateway_id: str) -> AsyncIterator[Delivery]:
        queue = self._queues[gateway_id]
        while True:
            yield await queue.get()

    def depth(self, gateway_id: str) -> int:
        return self._queues[gateway_id].qsize()
