"""The connections held by this gateway, and delivery of queue entries to them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pigeon.bus.delivery import Delivery
from pigeon.gateway.connection import Connection


class Hub:
    """Local sockets by user, then by connection id (a user may have many here: devices
    and tabs). Only this gateway's users: the registry knows the rest."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._by_user: dict[int, dict[str, Connection]] = defaultdict(dict)
        self.delivered = 0

    def attach(self, connection: Connection) -> None:
        """Add an authenticated connection."""
        self._by_user[connection.user_id][connection.id] = connection

    def detach(self, connection: Connection) -> bool:
        """Remove a connection; False if it was not attached."""
        sockets = self._by_user.get(connection.user_id)
        if not sockets or sockets.get(connection.id) is not connection:
            return False
        del sockets[connection.id]
        if not sockets:
            del self._by_user[connection.user_id]
        return True

    def connections(self) -> Iterator[Connection]:
        for devices in list(self._by_user.values()):
            yield from list(devices.values())

    def count(self) -> int:
        return sum(len(devices) for devices in self._by_user.values())

    def deliver(self, delivery: Delivery) -> int:
        """Hand a queue entry to the local sockets it names; return how many got it."""
        if delivery.targets:
            return self._deliver_to_devices(delivery)
        reached = 0
        closing = set(delivery.close_sessions)
        for user_id in delivery.user_ids:
            for connection in list(self._by_user.get(user_id, {}).values()):
                if connection.id == delivery.exclude_connection:
                    continue
                if delivery.close_connection is not None or closing:
                    if (
                        connection.id == delivery.close_connection
                        or connection.auth_session_id in closing
                    ):
                        connection.close(delivery.close_code, "closed", delivery.frame)
                        reached += 1
                    continue
                if connection.send(delivery.frame):
                    reached += 1
        self.delivered += reached
        return reached

    def _deliver_to_devices(self, delivery: Delivery) -> int:
        """Every local socket of the named devices (all tabs of a browser)."""
        reached = 0
        wanted: dict[int, set[str]] = defaultdict(set)
        for user_id, device in delivery.targets:
            wanted[user_id].add(device)
        for user_id, devices in wanted.items():
            for connection in list(self._by_user.get(user_id, {}).values()):
                if connection.device not in devices or connection.id == delivery.exclude_connection:
                    continue
                if connection.send(delivery.frame):
                    reached += 1
        self.delivered += reached
        return reached
