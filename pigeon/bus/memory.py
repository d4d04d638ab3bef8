"""In-process registry and queues: the embedded single-process mode."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator

from pigeon.bus.delivery import Delivery, Location
from pigeon.bus.registry import GatewayInfo, RefreshResult


class MemoryRegistry:
    """Connections of this process; nothing expires because nothing can die apart."""

    def __init__(self) -> None:
        self._by_user: dict[int, dict[str, Location]] = defaultdict(dict)
        self._announced: dict[int, list[str]] = {}
        self._dirty: dict[int, float] = {}
        self._gateways: dict[str, GatewayInfo] = {}
        self._presence_locks: set[int] = set()
        self._noticed: dict[int, set[int]] = defaultdict(set)

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

    async def refresh(self, entries: list[tuple[int, Location]]) -> RefreshResult:
        return RefreshResult()

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for user_id in user_ids:
            gateways = {loc.gateway_id for loc in self._by_user.get(user_id, {}).values()}
            for gateway_id in gateways:
                found[gateway_id].append(user_id)
        return dict(found)

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        return {uid: sorted(self._by_user[uid]) for uid in user_ids if self._by_user.get(uid)}

    async def mark_presence_dirty(self, user_ids: list[int], delay_s: float) -> None:
        due = time.monotonic() + delay_s
        for user_id in user_ids:
            self._dirty[user_id] = min(due, self._dirty.get(user_id, due))

    async def claim_presence_dirty(self, limit: int, lease_s: float) -> list[int]:
        now = time.monotonic()
        due = [uid for uid, at in self._dirty.items() if at <= now][:limit]
        for user_id in due:
            del self._dirty[user_id]
        return due

    async def release_presence_dirty(self, user_ids: list[int]) -> None:
        return None

    async def lock_presence(self, user_id: int, ttl_s: float) -> bool:
        if user_id in self._presence_locks:
            return False
        self._presence_locks.add(user_id)
        return True

    async def unlock_presence(self, user_id: int) -> None:
        self._presence_locks.discard(user_id)

    async def settle_presence(self, user_id: int) -> list[str] | None:
        current = sorted(self._by_user.get(user_id, {}))
        if current == self._announced.get(user_id, []):
            return None
        if current:
            self._announced[user_id] = current
        else:
            self._announced.pop(user_id, None)
        return current

    async def report_gateway(self, info: GatewayInfo) -> bool:
        known = info.gateway_id in self._gateways
        self._gateways[info.gateway_id] = info
        return not known

    async def remove_gateway(self, gateway_id: str) -> None:
        self._gateways.pop(gateway_id, None)

    async def live_gateways(self) -> list[GatewayInfo]:
        return list(self._gateways.values())

    async def dead_gateways(self) -> list[str]:
        return []

    async def sweep_gateway(self, gateway_id: str) -> list[int] | None:
        return []

    async def claim_notices(self, conversation_id: int, user_ids: list[int]) -> list[int]:
        noticed = self._noticed[conversation_id]
        fresh = [uid for uid in dict.fromkeys(user_ids) if uid not in noticed]
        noticed.update(fresh)
        return fresh

    async def clear_notice(self, conversation_id: int, user_id: int) -> None:
        self._noticed.get(conversation_id, set()).discard(user_id)


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

    async def length(self, gateway_id: str) -> int:
        return self._queues[gateway_id].qsize()

    async def discard(self, gateway_id: str) -> None:
        self._queues.pop(gateway_id, None)
