"""The connections held by this gateway, and delivery of queue entries to them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pigeon.bus.delivery import Delivery
from pigeon.gateway.connection import Connection


class Hub:
    """Local sockets by user. Only this gateway's users: the registry knows the rest."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._by_user: dict[int, dict[str, Connection]] = defaultdict(dict)
        self.delivered = 0

    def attach(self, connection: Connection) -> Connection | None:
        """Add an authenticated connection; return the local one it replaces, if any."""
        devices = self._by_user[connection.user_id]
        previous = devices.get(connection.device)
        devices[connection.device] = connection
        return previous if previous is not connection else None

    def detach(self, connection: Connection) -> bool:
        """Remove a connection if it is still the current one for its device."""
        devices = self._by_user.get(connection.user_id)
        if not devices or devices.get(connection.device) is not connection:
            return False
        del devices[connection.device]
        if not devices:
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
        reached = 0
        for user_id, device in delivery.targets:
            connection = self._by_user.get(user_id, {}).get(device)
            if connection is None or connection.id == delivery.exclude_connection:
                continue
            if connection.send(delivery.frame):
                reached += 1
        self.delivered += reached
        return reached
