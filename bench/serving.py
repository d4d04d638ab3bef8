"""The server under test for the scenario modules: embedded or a cluster, as a context.

Each scenario names the few settings it changes beyond the benchmark's usual ones
(:data:`bench.servers.SERVER_ENV`); they are printed and written to the JSON result.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.cluster import ClusterOptions, start_cluster
from bench.servers import SERVER_ENV, start_embedded

# Registration hashes every password with argon2id (~0.1 s of CPU each at the default
# cost); scenarios that register thousands of users lower the cost of new hashes.
FAST_HASH = {
    "PIGEON_AUTH__PASSWORD_HASH_TIME_COST": "1",
    "PIGEON_AUTH__PASSWORD_HASH_MEMORY_KIB": "8",
    "PIGEON_AUTH__PASSWORD_HASH_PARALLELISM": "1",
}


@dataclass
class Served:
    mode: str
    api: str
    gateways: list[str]
    pids: list[int]
    describe: dict[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None  # embedded: where its SQLite database is


@contextmanager
def serve(mode: str, scratch: Any, copts: ClusterOptions, env: dict[str, str]) -> Iterator[Served]:
    """Start Pigeon with ``env`` on top of the benchmark's settings; stop it afterwards."""
    extra = {**dict(copts.env), **env}
    if mode == "embedded":
        data = scratch.path / f"data-{secrets.token_hex(3)}"
        proc, base = start_embedded(data, scratch.path, extra)
        try:
            ws = [base.replace("http://", "ws://") + "/ws"]
            yield Served(mode, base, ws, [proc.proc.pid], data_dir=data)
        finally:
            proc.stop()
        return
    cluster = start_cluster(replace(copts, env=tuple(extra.items())), scratch.path)
    try:
        yield Served(
            mode, cluster.api, cluster.gateways, [cluster.proc.proc.pid], cluster.describe()
        )
    finally:
        cluster.stop()


def print_settings(scenario_env: dict[str, str], extra: tuple[tuple[str, str], ...]) -> None:
    """The settings this run changes on Pigeon: the benchmark's, the scenario's, the user's."""
    print("server settings changed for this run:", file=sys.stderr)
    for key, value in {**SERVER_ENV, **scenario_env, **dict(extra)}.items():
        print(f"  {key}={value}", file=sys.stderr)


def settings_changed(
    scenario_env: dict[str, str], extra: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    return {**SERVER_ENV, **scenario_env, **dict(extra)}
