"""In-process registry, notice book and queues: the embedded single-process mode."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

from pigeon.bus.delivery import Delivery, Location
from pigeon.bus.notice_rules import Stub, after_catch_up, after_message, after_own_message
from pigeon.bus.notices import DeviceKey, Wakes
from pigeon.bus.registry import GatewayInfo, RefreshResult


class MemoryConnections:
    """Sockets of this process; nothing expires because nothing can die apart."""

    def __init__(self) -> None:
        self.by_user: dict[int, dict[str, Location]] = defaultdict(dict)

    async def register(self, user_id: int, location: Location, cap: int = 0) -> bool:
        sockets = self.by_user[user_id]
        others = len(sockets) - (location.connection_id in sockets)
        if cap > 0 and others >= cap:
            if not sockets:
                del self.by_user[user_id]
            return False
        sockets[location.connection_id] = location
        return True

    async def unregister(self, user_id: int, location: Location) -> bool:
        sockets = self.by_user.get(user_id)
        if not sockets or sockets.get(location.connection_id) != location:
            return False
        del sockets[location.connection_id]
        if not sockets:
            del self.by_user[user_id]
        return True

    async def refresh(self, entries: list[tuple[int, Location]]) -> RefreshResult:
        return RefreshResult()

    async def locations(self, user_ids: list[int]) -> dict[int, list[Location]]:
        return {uid: list(self.by_user[uid].values()) for uid in user_ids if self.by_user.get(uid)}

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for user_id in user_ids:
            gateways = {loc.gateway_id for loc in self.by_user.get(user_id, {}).values()}
            for gateway_id in gateways:
                found[gateway_id].append(user_id)
        return dict(found)

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        return {uid: self.kinds(uid) for uid in user_ids if self.by_user.get(uid)}

    def kinds(self, user_id: int) -> list[str]:
        return sorted({loc.kind for loc in self.by_user.get(user_id, {}).values()})

    async def locate_devices(self, user_ids: list[int]) -> dict[str, list[tuple[int, str]]]:
        found: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for user_id in user_ids:
            sockets = self.by_user.get(user_id, {}).values()
            for gateway_id, device in dict.fromkeys(
                (loc.gateway_id, loc.device) for loc in sockets
            ):
                found[gateway_id].append((user_id, device))
        return dict(found)

    async def drop_gateway(self, gateway_id: str) -> list[int]:
        dropped = []
        for user_id, sockets in list(self.by_user.items()):
            for connection_id, location in list(sockets.items()):
                if location.gateway_id == gateway_id:
                    del sockets[connection_id]
                    dropped.append(user_id)
            if not sockets:
                del self.by_user[user_id]
        return sorted(set(dropped))


class MemoryPresenceBook:
    """What friends were last told, next to this process's connections."""

    def __init__(self, connections: MemoryConnections) -> None:
        self.connections = connections
        self._announced: dict[int, list[str]] = {}
        self._dirty: dict[int, float] = {}
        self._locks: set[int] = set()

    async def mark_dirty(self, user_ids: list[int], delay_s: float) -> None:
        due = time.monotonic() + delay_s
        for user_id in user_ids:
            self._dirty[user_id] = min(due, self._dirty.get(user_id, due))

    async def claim_dirty(self, limit: int, lease_s: float, ahead_s: float = 0.0) -> list[int]:
        now = time.monotonic() + ahead_s
        due = [uid for uid, at in self._dirty.items() if at <= now][:limit]
        for user_id in due:
            del self._dirty[user_id]
        return due

    async def release_dirty(self, user_ids: list[int]) -> None:
        return None

    async def lock(self, user_id: int, ttl_s: float) -> bool:
        if user_id in self._locks:
            return False
        self._locks.add(user_id)
        return True

    async def unlock(self, user_id: int) -> None:
        self._locks.discard(user_id)

    async def settle(self, user_id: int) -> list[str] | None:
        current = self.connections.kinds(user_id)
        if current == self._announced.get(user_id, []):
            return None
        if current:
            self._announced[user_id] = current
        else:
            self._announced.pop(user_id, None)
        return current


class MemoryGatewayDirectory:
    """The one gateway of the embedded process."""

    def __init__(self) -> None:
        self._gateways: dict[str, GatewayInfo] = {}

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

    async def is_alive(self, gateway_id: str) -> bool:
        return gateway_id in self._gateways

    async def lock_sweep(self, gateway_id: str) -> bool:
        return False

    async def unlock_sweep(self, gateway_id: str) -> None:
        return None

    async def forget(self, gateway_id: str) -> None:
        self._gateways.pop(gateway_id, None)


class MemoryNoticeBook:
    """Read stubs in a dictionary per hot conversation; ``latest`` beside them."""

    def __init__(self) -> None:
        self._stubs: dict[int, dict[DeviceKey, Stub]] = {}
        self._latest: dict[int, int] = {}

    async def on_message(
        self,
        conversation_id: int,
        seq: int,
        sender: DeviceKey | None,
        devices: list[DeviceKey],
    ) -> Wakes:
        stubs = self._stubs.setdefault(conversation_id, {})
        self._latest[conversation_id] = max(self._latest.get(conversation_id, 0), seq)
        wakes = Wakes()
        for device in devices:
            stub = stubs.get(device)
            if stub is None:
                wakes.unknown.append(device)
                continue
            rule = after_own_message if device == sender else after_message
            stubs[device], notify = rule(stub, seq)
            if notify:
                wakes.notify.append(device)
        return wakes

    async def seed(self, conversation_id: int, reads: dict[DeviceKey, int]) -> None:
        stubs = self._stubs.setdefault(conversation_id, {})
        for device, read in reads.items():
            stubs.setdefault(device, Stub(read, 0))

    async def on_catch_up(self, conversation_id: int, device: DeviceKey, seq: int) -> int | None:
        stubs = self._stubs.get(conversation_id)
        if stubs is None:
            return None
        latest = self._latest.get(conversation_id, 0)
        stubs[device], owed = after_catch_up(stubs.get(device, Stub()), seq, latest)
        return stubs[device].owed if owed else None


class MemoryQueue:
    """One unbounded asyncio queue per gateway id."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[Delivery]] = defaultdict(asyncio.Queue)

    async def push(self, gateway_id: str, delivery: Delivery) -> None:
        self._queues[gateway_id].put_nowait(delivery)

    async def push_many(self, entries: Sequence[tuple[str, Delivery]]) -> None:
        for gateway_id, delivery in entries:
            self._queues[gateway_id].put_nowait(delivery)

    async def consume(self, gateway_id: str) -> AsyncIterator[Delivery]:
        queue = self._queues[gateway_id]
        while True:
            yield await queue.get()

    async def length(self, gateway_id: str) -> int:
        return self._queues[gateway_id].qsize()

    async def discard(self, gateway_id: str) -> None:
        self._queues.pop(gateway_id, None)
