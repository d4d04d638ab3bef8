"""The registry of live connections: which gateway holds each user's devices."""

from __future__ import annotations

from typing import Protocol

from pigeon.bus.delivery import Location


class Registry(Protocol):
    """Maps users to the gateways (and device kinds) their sockets are on."""

    async def register(self, user_id: int, location: Location) -> Location | None:
        """Record a connection; return the connection it replaces (same user and device)."""

    async def unregister(self, user_id: int, location: Location) -> bool:
        """Forget a connection if it is still the registered one; True if it was."""

    async def refresh(self, entries: list[tuple[int, Location]]) -> None:
        """Keep these (user id, connection) entries alive; entries not refreshed expire."""

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        """Group the connected ones among ``user_ids`` by gateway id."""

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        """The device kinds each connected user is online with (absent: offline)."""
