"""The cluster most cluster tests run against: one per test module (a module that kills
processes never disturbs another), three gateways and two API servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.common import FAST
from tests.cluster.harness import ClusterProcess, start_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterProcess]:
    process = start_cluster(gateways=3, platforms=2, env=FAST)
    try:
        yield process
    finally:
        process.stop()
