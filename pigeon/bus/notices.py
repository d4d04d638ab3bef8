"""The hot-group notice book: each device's read stub, kept where the fan-out reaches it.

The rules are in :mod:`pigeon.bus.notice_rules`; an implementation applies them atomically
per conversation (in-process dictionaries embedded, one Lua script per call on Redis).
A device is ``(user id, device id)``, the device id being its login session's; a device
may have several sockets (tabs of one browser), and a notice owed to it reaches them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

DeviceKey = tuple[int, str]


@dataclass
class Wakes:
    """What a fan-out decided for the online devices it was given."""

    notify: list[DeviceKey] = field(default_factory=list)
    unknown: list[DeviceKey] = field(default_factory=list)  # no stub: seed, then ask again


class NoticeBook(Protocol):
    async def on_message(
        self,
        conversation_id: int,
        seq: int,
        sender: DeviceKey | None,
        devices: list[DeviceKey],
    ) -> Wakes:
        """A message at ``seq`` (sent from ``sender``, if a device sent it) reaches these
        online devices: which are owed a notice. Devices without a stub are left alone
        and listed in ``unknown``."""

    async def seed(self, conversation_id: int, reads: dict[DeviceKey, int]) -> None:
        """Give devices without a stub one (from their member's read marker)."""

    async def on_catch_up(self, conversation_id: int, device: DeviceKey, seq: int) -> int | None:
        """The device pulled, fetched or read up to ``seq``: the seq of a notice owed to
        it now, if any. Does nothing for a conversation the book holds nothing of."""
