"""A delivery queue per gateway, consumed only by that gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from pigeon.bus.delivery import Delivery


class DeliveryQueue(Protocol):
    async def push(self, gateway_id: str, delivery: Delivery) -> None:
        """Append to one gateway's queue."""

    def consume(self, gateway_id: str) -> AsyncIterator[Delivery]:
        """Entries for ``gateway_id``, in order, until the consumer stops iterating."""
