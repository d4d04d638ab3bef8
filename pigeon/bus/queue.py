"""A delivery queue per gateway, consumed only by that gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from pigeon.bus.delivery import Delivery


class DeliveryQueue(Protocol):
    async def push(self, gateway_id: str, delivery: Delivery) -> None:
        """Append to one gateway's queue."""

    async def push_many(self, entries: Sequence[tuple[str, Delivery]]) -> None:
        """Append each (gateway id, delivery) to its gateway's queue, in order, at once."""

    def consume(self, gateway_id: str) -> AsyncIterator[Delivery]:
        """Entries for ``gateway_id``, in order, until the consumer stops iterating.

        An entry counts as consumed once the consumer asks for the next one (at-least-once:
        entries taken by a consumer that crashed are handed out again on restart).
        """

    async def length(self, gateway_id: str) -> int:
        """Entries waiting in (or taken but not yet finished from) the queue."""

    async def discard(self, gateway_id: str) -> None:
        """Drop a gateway's queue (the gateway left or died; its users sync on reconnect)."""
