"""The registry's jobs, each its own small interface (in-process or on Redis).

    Connections       who is connected where: user -> {connection: (gateway, device, kind)}
    PresenceBook      what friends were last told of each user, and who is due a settle
    GatewayDirectory  live gateways with their URL and load (discovery, dead-gateway sweep)

The fourth, the hot-group notice book, is :class:`pigeon.bus.notices.NoticeBook`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pigeon.bus.delivery import Location


@dataclass(frozen=True)
class GatewayInfo:
    """A gateway as it reports itself: where clients reach it and how busy it is."""

    gateway_id: str
    url: str
    connections: int
    heartbeat_ms: int = 0


@dataclass
class RefreshResult:
    """What a refresh found: users whose entries it had to re-create (the registry had
    lost them: swept, expired, or Redis lost its data)."""

    recreated: list[int] = field(default_factory=list)


class Connections(Protocol):
    """Maps users to the gateways their sockets are on, one entry per socket.

    A user may hold many sockets at once (devices, and tabs of one device); each entry
    expires unless its gateway refreshes it, so a gateway killed without a goodbye leaves
    nothing behind for longer than ``redis.registry_ttl_s``."""

    async def register(self, user_id: int, location: Location, cap: int = 0) -> bool:
        """Record a socket, unless the user already has ``cap`` live ones (0: no cap);
        True if it was recorded. Counting and recording are one atomic step."""

    async def unregister(self, user_id: int, location: Location) -> bool:
        """Forget a socket if it is still registered; True if it was."""

    async def refresh(self, entries: list[tuple[int, Location]]) -> RefreshResult:
        """Keep these (user id, socket) entries alive, re-creating lost ones (the cap is
        not applied again); entries not refreshed expire."""

    async def locations(self, user_ids: list[int]) -> dict[int, list[Location]]:
        """The live sockets of each connected user among ``user_ids`` (absent: offline)."""

    async def locate(self, user_ids: list[int]) -> dict[str, list[int]]:
        """Group the connected ones among ``user_ids`` by gateway id."""

    async def devices(self, user_ids: list[int]) -> dict[int, list[str]]:
        """The device kinds each connected user is online with, sorted and without
        repeats (absent: offline). This is what presence shows friends."""

    async def locate_devices(self, user_ids: list[int]) -> dict[str, list[tuple[int, str]]]:
        """The connected (user id, device id) among ``user_ids``, by gateway id (a device
        with sockets on two gateways is listed under both)."""

    async def drop_gateway(self, gateway_id: str) -> list[int]:
        """Remove every entry of a gateway (it died or left); the users who had one."""


class PresenceBook(Protocol):
    """Presence as last announced, and the users whose presence may have changed."""

    async def mark_dirty(self, user_ids: list[int], delay_s: float) -> None:
        """These users' presence may have changed: settle it in ``delay_s`` (earliest wins)."""

    async def claim_dirty(self, limit: int, lease_s: float, ahead_s: float = 0.0) -> list[int]:
        """Take up to ``limit`` users that are due (or will be within ``ahead_s``), leased
        for ``lease_s``."""

    async def release_dirty(self, user_ids: list[int]) -> None:
        """Done with claimed users (a mark made again meanwhile stays)."""

    async def lock(self, user_id: int, ttl_s: float) -> bool:
        """Take the user's presence lock (settle and announce one at a time, so friends
        hear changes in order); False if someone else holds it."""

    async def unlock(self, user_id: int) -> None:
        """Release the presence lock."""

    async def settle(self, user_id: int) -> list[str] | None:
        """Atomically compare the user's device kinds with what was last announced and
        record them; the new list if it differs (``[]``: offline), else None."""


class GatewayDirectory(Protocol):
    """The gateways that report themselves alive."""

    async def report_gateway(self, info: GatewayInfo) -> bool:
        """Heartbeat of a gateway; True if the directory did not know it (new, swept, or
        Redis lost its data), so the gateway should re-register its connections."""

    async def remove_gateway(self, gateway_id: str) -> None:
        """A gateway leaving on purpose: stop sending clients to it."""

    async def live_gateways(self) -> list[GatewayInfo]:
        """Gateways that reported recently."""

    async def dead_gateways(self) -> list[str]:
        """Gateways whose last report is older than the liveness timeout."""

    async def is_alive(self, gateway_id: str) -> bool:
        """The gateway reported within the liveness timeout."""

    async def lock_sweep(self, gateway_id: str) -> bool:
        """Take the right to sweep a dead gateway (False: it is alive, or someone has it)."""

    async def unlock_sweep(self, gateway_id: str) -> None:
        """Done sweeping."""

    async def forget(self, gateway_id: str) -> None:
        """Drop a swept gateway's directory entry."""
