"""Gateway.admit and adopt with stand-ins for the registry and the database: a session
revoked in the moment between the token check and the registration must still lose its
socket, and the registry's cap decides whether a socket is admitted at all."""

from __future__ import annotations

from typing import cast

import pytest

from pigeon.actions.context import Context
from pigeon.bus.delivery import Location
from pigeon.bus.publication import Publication
from pigeon.bus.queue import DeliveryQueue
from pigeon.common.metrics import Metrics
from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.session import Session, SessionLimits, State
from pigeon.common.settings import Settings
from pigeon.gateway import service
from pigeon.gateway.connection import CloseRequest, Connection


class FakeConnections:
    """The registry; registering is where the logout slips in."""

    def __init__(self, revoked: set[str], room: int = 10) -> None:
        self.revoked = revoked
        self.room = room
        self.registered: list[tuple[int, Location, int]] = []

    async def register(self, user_id: int, location: Location, cap: int = 0) -> bool:
        if len(self.registered) >= self.room:
            return False
        self.registered.append((user_id, location, cap))
        self.revoked.add("sess-1")  # logout committed; its kick found no socket yet
        return True


class FakeContext:
    def __init__(self, revoked: set[str]) -> None:
        self.connections = FakeConnections(revoked)

    async def publish(self, publications: list[Publication]) -> None:
        pass


def open_connection() -> Connection:
    session = Session(SessionLimits(), opened_at=0.0)
    session.receive('{"type":"auth","token":"t"}', 0.1)
    session.state = State.OPEN
    return Connection(
        session=session, user_id=7, device="sess-1", kind="desktop", auth_session_id="sess-1"
    )


async def test_a_session_revoked_during_registration_is_kicked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    revoked: set[str] = set()

    async def session_is_live(ctx: Context, session_id: str) -> bool:
        return session_id not in revoked

    monkeypatch.setattr(service, "session_is_live", session_is_live)
    ctx = FakeContext(revoked)
    gateway = service.Gateway(
        Settings(), cast(Context, ctx), cast(DeliveryQueue, None), "gw1", Metrics()
    )
    connection = open_connection()
    assert await gateway.admit(connection)
    await gateway.adopt(connection)
    cap = Settings().gateway.max_connections_per_user
    assert ctx.connections.registered == [
        (7, Location("gw1", "sess-1", connection.id, "desktop"), cap)
    ]
    assert connection.closing
    frames = list(connection.outbound)
    assert frames == [
        '{"type":"kicked","reason":"session_revoked"}',
        CloseRequest(CloseCode.REVOKED, "session revoked"),
    ]


async def test_a_socket_over_the_cap_is_not_admitted() -> None:
    ctx = FakeContext(set())
    ctx.connections.room = 0
    gateway = service.Gateway(
        Settings(), cast(Context, ctx), cast(DeliveryQueue, None), "gw1", Metrics()
    )
    connection = open_connection()
    assert not await gateway.admit(connection)
    assert gateway.hub.count() == 0
    assert not connection.closing  # the endpoint refuses it, with its error frame
