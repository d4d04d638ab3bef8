"""One Synapse run of the 1:1 scenario: install, start, set up users and rooms, load."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bench.runner import LoadOptions, RunError, run_workers
from bench.stats import RunFigures
from bench.synapse.accounts import prepare_rooms
from bench.synapse.homeserver import start_synapse
from bench.synapse.install import SYNAPSE_VERSION
from bench.synapse.loadgen import MatrixWorkerConfig, matrix_worker_main

LABEL = f"synapse {SYNAPSE_VERSION}"


def run_synapse(
    opts: LoadOptions, scratch: Path, run_id: int, pg_url: str, keep_db: bool = False
) -> RunFigures:
    """Closed loop only: an open-loop rate is refused (Synapse is measured as Pigeon's
    closed-loop runs are)."""
    if opts.rate is not None:
        raise RunError("the Synapse run is closed loop only (no --rate)")
    server = start_synapse(scratch, pg_url, keep_db)
    try:
        t0 = time.monotonic()
        rooms = asyncio.run(prepare_rooms(server.base, server.shared_secret, opts.pairs, run_id))
        print(
            f"{LABEL}: {2 * len(rooms)} users and {len(rooms)} rooms in "
            f"{time.monotonic() - t0:.1f}s",
            file=sys.stderr,
        )
        n_workers = max(1, min(opts.workers, len(rooms)))
        numbers = list(range(len(rooms)))
        configs = [
            MatrixWorkerConfig(
                index=i,
                run_id=run_id,
                base_url=server.base,
                rooms=rooms[i::n_workers],
                pair_numbers=numbers[i::n_workers],
                window=opts.window,
                warmup=opts.warmup,
                duration=opts.duration,
                drain_timeout=opts.drain_timeout,
                text_size=opts.text_size,
                start_timeout=opts.setup_timeout + 30,
            )
            for i in range(n_workers)
        ]
        figures = run_workers(LABEL, opts, configs, matrix_worker_main, [server.proc.proc.pid])
        figures.config["synapse"] = server.describe()
        return figures
    finally:
        server.stop()
