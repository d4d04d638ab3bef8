"""CPU time of process trees, read from /proc, and the machine's load.

A shared machine makes rates noisy; CPU seconds spent per message by the server's own
processes are much less sensitive to what else runs. PostgreSQL and Redis are not our
children: their CPU is not in the server's figure (the load average shows the machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of one process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds used so far by ``roots`` and all their living descendants."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                parents[int(entry.name)], cpu[int(entry.name)] = found
    wanted = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    return sum(cpu.get(pid, 0.0) for pid in wanted)


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def store_pids() -> list[int]:
    """The PostgreSQL postmaster and Redis server processes on this machine."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "redis-server":
            found.append(int(entry.name))
        elif comm in ("postgres", "postmaster"):
            parent = _stat(int(entry.name))
            if parent is not None and _comm(parent[0]) not in ("postgres", "postmaster"):
                found.append(int(entry.name))
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class CpuSample:
    server: float
    store: float
    loadgen: float
    machine: float

    @classmethod
    def take(cls, server: list[int], store: list[int], loadgen: list[int]) -> CpuSample:
        return cls(tree_cpu(server), tree_cpu(store), tree_cpu(loadgen), machine_busy())


@dataclass
class CpuWindow:
    """CPU seconds used inside the measured window, by whom."""

    server_s: float = 0.0  # the server's own processes (relay, pigeon serve, the cluster's)
    store_s: float = 0.0  # PostgreSQL and Redis (all of their work, not only ours)
    loadgen_s: float = 0.0  # the load generator's worker processes
    other_s: float = 0.0  # everything else the machine did meanwhile
    load_before: float = 0.0
    load_after: float = 0.0
    server_known: bool = True  # False when the server is not our child (--mode url)

    def between(self, first: CpuSample, second: CpuSample) -> None:
        self.server_s = second.server - first.server
        self.store_s = max(0.0, second.store - first.store)
        self.loadgen_s = second.loadgen - first.loadgen
        machine = second.machine - first.machine
        self.other_s = max(0.0, machine - self.server_s - self.store_s - self.loadgen_s)
