"""The one way to publish: after the commit, hand each publication to its route.

Actions collect publications (:mod:`pigeon.bus.publication`) while their transaction runs
and publish them once it committed (``Context.transaction``), or publish ephemeral ones
(typing, presence) directly. The route depends only on the kind of publication:

    MessageStored with recipients (private)  routed here and now; hand-off finished
    MessageStored without (groups), ToGroup  appended to the fan-out queue for the workers
    ToUsers, ToDevices, CloseSockets         routed here and now

A failure to route or to queue loses nothing committed: the message's hand-off row stays
and the ``handoff`` worker publishes it again. Tests watch a publisher
(:meth:`Publisher.watch`) to assert exactly what an action emitted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pigeon.actions.handoff import Handoffs
from pigeon.bus.fanout_queue import FanoutQueue
from pigeon.bus.publication import (
    CloseSockets,
    MessageStored,
    Publication,
    ToDevices,
    ToGroup,
    ToUsers,
)
from pigeon.bus.router import Push, Router
from pigeon.common.outage import Outage


class Publisher:
    def __init__(self, router: Router, fanout: FanoutQueue, handoffs: Handoffs) -> None:
        self.router = router
        self.fanout = fanout
        self.handoffs = handoffs
        self._watchers: list[list[Publication]] = []
        self._queue_outage = Outage("fanout_queue")
        self._route_outage = Outage("push")

    @contextmanager
    def watch(self) -> Iterator[list[Publication]]:
        """Everything published while the block runs, in order."""
        seen: list[Publication] = []
        self._watchers.append(seen)
        try:
            yield seen
        finally:
            self._watchers.remove(seen)

    async def publish(self, publications: Sequence[Publication]) -> None:
        """Send committed publications on their way. Never raises."""
        if not publications:
            return
        for watcher in self._watchers:
            watcher.extend(publications)
        queued = [p for p in publications if _for_workers(p)]
        if queued:
            try:
                await self.fanout.push(queued)
                self._queue_outage.succeeded()
            except Exception as exc:
                self._queue_outage.failed(exc, publications=len(queued))
        run: list[MessageStored | ToUsers] = []
        for publication in publications:
            if _for_workers(publication):
                continue
            if isinstance(publication, MessageStored | ToUsers):
                run.append(publication)  # routed together, in order, with its neighbours
                continue
            await self._route_all(run)
            run = []
            try:
                await self.route(publication)
                self._route_outage.succeeded()
            except Exception as exc:
                self._route_outage.failed(exc, frame=publication.frame_type)
        await self._route_all(run)

    async def _route_all(self, publications: Sequence[MessageStored | ToUsers]) -> None:
        """Frames for named users: one lookup and one enqueue for all of them."""
        if not publications:
            return
        try:
            await self.router.push_many([_push(p) for p in publications])
            self._route_outage.succeeded()
        except Exception as exc:
            self._route_outage.failed(exc, publications=len(publications))
            return
        self.handoffs.finish([p.message_id for p in publications if isinstance(p, MessageStored)])

    async def publish_now(self, publication: ToUsers) -> set[int]:
        """Publish a frame for named users and say who had a socket to receive it.
        Raises when the bus is unreachable."""
        for watcher in self._watchers:
            watcher.append(publication)
        reached = await self.route(publication)
        return {uid for users in reached.values() for uid in users}

    async def route(self, publication: Publication) -> dict[str, list[int]]:
        """Deliver a publication whose recipients are named; who was reached, by gateway.
        Raises when the bus is unreachable."""
        if isinstance(publication, CloseSockets):
            await self.router.close(
                publication.frame,
                publication.user_id,
                publication.code,
                connection_id=publication.connection_id,
                gateway_id=publication.gateway_id,
                session_ids=publication.session_ids,
            )
            return {}
        if isinstance(publication, ToDevices):
            wanted = set(publication.targets)
            located = await self.router.locate_devices([uid for uid, _ in publication.targets])
            found = {
                gateway: [target for target in targets if target in wanted]
                for gateway, targets in located.items()
            }
            await self.router.push_to_devices(publication.frame, found)
            return {gateway: [uid for uid, _ in targets] for gateway, targets in found.items()}
        if isinstance(publication, ToGroup) or (
            isinstance(publication, MessageStored) and publication.recipients is None
        ):
            raise ValueError("a publication for a whole group goes to the fan-out queue")
        (reached,) = await self.router.push_many([_push(publication)])
        if isinstance(publication, MessageStored):
            self.handoffs.finish([publication.message_id])
        return reached


def _push(publication: MessageStored | ToUsers) -> Push:
    users = publication.user_ids if isinstance(publication, ToUsers) else publication.recipients
    assert users is not None, "a group's message goes to the fan-out queue"
    return Push(publication.frame, list(users), publication.exclude_connection)


def _for_workers(publication: Publication) -> bool:
    """Publications whose recipients only a fan-out worker resolves."""
    return isinstance(publication, ToGroup) or (
        isinstance(publication, MessageStored) and publication.recipients is None
    )
