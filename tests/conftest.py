"""Fixtures: a real Pigeon server per test session, and SDK clients as users of it.

``PIGEON_TEST_MODE`` chooses what the behaviour tests run against: ``embedded`` (default,
one ``pigeon serve`` process on SQLite) or ``cluster``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from pigeon.client import PigeonClient
from tests.cluster.harness import ClusterProcess, start_cluster
from tests.harness import ServerProcess, start_embedded

PASSWORD = "Tawny-Otter-Lamp-42"
CONNECTION_CAP = 4
MakeClient = Callable[..., Awaitable[PigeonClient]]


def test_mode() -> str:
    return os.environ.get("PIGEON_TEST_MODE", "embedded")


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess | ClusterProcess]:
    """The server every behaviour test talks to (usernames are unique per test)."""
    # Behaviour tests send faster than a person; the flood limit has tests of its own.
    env = {
        "PIGEON_GATEWAY__RATE_PER_S": "1000",
        "PIGEON_GATEWAY__RATE_BURST": "2000",
        # Offline is announced after this grace period (default 3 s); keep tests quick.
        "PIGEON_PRESENCE__GRACE_S": "1",
        # Low enough that tests reach it (tests/integration/test_devices.py).
        "PIGEON_GATEWAY__MAX_CONNECTIONS_PER_USER": str(CONNECTION_CAP),
    }
    process: ServerProcess | ClusterProcess
    if test_mode() == "cluster":
        # Three gateways and two API servers on PostgreSQL + Redis; clients are placed on
        # the gateways in turn, so one test's users sit on different gateways.
        process = start_cluster(gateways=3, platforms=2, env=env)
    else:
        process = start_embedded(env)
    try:
        yield process
    finally:
        process.stop()


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def make_client(server: ServerProcess) -> AsyncIterator[MakeClient]:
    """Build registered (and by default connected) clients; all are closed afterwards."""
    clients: list[PigeonClient] = []

    async def make(
        name: str | None = None,
        *,
        device: str = "web",
        device_name: str | None = None,
        connect: bool = True,
        login_as: PigeonClient | None = None,
        target: ServerProcess | None = None,
    ) -> PigeonClient:
        host = target or server
        # host.ws_url: in cluster mode each call gives the next gateway.
        client = PigeonClient(
            host.http_url, device=device, device_name=device_name, ws_url=host.ws_url
        )
        clients.append(client)
        if login_as is not None:
            await client.login(login_as.user["username"], PASSWORD)
        else:
            await client.register(name or unique_name(), PASSWORD)
        if connect:
            await client.connect()
        return client

    yield make
    for client in clients:
        await client.close()
