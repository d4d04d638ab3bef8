"""The SDK exports exactly its intended public names."""

from __future__ import annotations

import pigeon.client


def test_public_names_are_deliberate() -> None:
    assert sorted(pigeon.client.__all__) == pigeon.client.__all__
    assert set(pigeon.client.__all__) <= {
        "ApiError",
        "ClientClosed",
        "Kicked",
        "OrderedInbox",
        "PigeonClient",
        "ServiceClient",
    }
    for name in pigeon.client.__all__:
        assert getattr(pigeon.client, name).__module__.startswith("pigeon.client._")
