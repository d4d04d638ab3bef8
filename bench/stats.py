"""Figures of one load run: rates, latency percentiles, correctness totals."""

from __future__ import annotations

import array
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.checks import PairCheck
from bench.cpu import CpuWindow


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[rank])


# Percentiles kept for a latency CDF: every half percent, then the tail.
CDF_POINTS = (*(i / 2 for i in range(199)), 99.5, 99.9, 99.99, 100.0)


@dataclass
class Latency:
    """Milliseconds."""

    count: int = 0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    # (percentile, ms) points of the distribution, for CDF plots; not in to_dict()
    cdf: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @classmethod
    def from_us(cls, chunks: list[bytes]) -> Latency:
        values = array.array("q")
        for chunk in chunks:
            values.frombytes(chunk)
        ordered = sorted(values)
        if not ordered:
            return cls()
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 50) / 1000,
            p95=percentile(ordered, 95) / 1000,
            p99=percentile(ordered, 99) / 1000,
            max=ordered[-1] / 1000,
            mean=sum(ordered) / len(ordered) / 1000,
            cdf=[(q, percentile(ordered, q) / 1000) for q in CDF_POINTS],
        )

    def summary(self) -> dict[str, Any]:
        """The percentiles, rounded, without the CDF points."""
        return _rounded({k: v for k, v in self.__dict__.items() if k != "cdf"})


@dataclass
class RunFigures:
    label: str
    duration: float
    sent_per_s: float = 0.0
    acked_per_s: float = 0.0
    delivered_per_s: float = 0.0
    latency: Latency = field(default_factory=Latency)
    ack_latency: Latency = field(default_factory=Latency)
    check: PairCheck = field(default_factory=PairCheck)
    skipped: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    other_frames: dict[str, int] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    worker_errors: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    cpu: CpuWindow = field(default_factory=CpuWindow)

    @property
    def server_cpu_us_per_msg(self) -> float:
        delivered = self.delivered_per_s * self.duration
        return self.cpu.server_s / delivered * 1e6 if delivered else 0.0

    @property
    def busy_machine(self) -> bool:
        """Other work took more than 10% of the machine during the window: rates are low."""
        cores = os.cpu_count() or 1
        return self.cpu.server_known and self.cpu.other_s > 0.10 * cores * self.duration

    @property
    def ok(self) -> bool:
        return (
            self.check.failures == 0
            and not self.worker_errors
            and not self.closed
            and not self.error_codes
            and self.delivered_per_s > 0
        )

    def problems(self) -> list[str]:
        out: list[str] = []
        c = self.check
        for name in ("lost", "duplicated", "reordered", "seq_mismatch", "unacked", "send_errors"):
            value = getattr(c, name)
            if value:
                out.append(f"{name}: {value}")
        out.extend(c.examples)
        if self.error_codes:
            out.append(f"error frames: {self.error_codes}")
        out.extend(self.closed[:10])
        if len(self.closed) > 10:
            out.append(f"... and {len(self.closed) - 10} more closed sockets")
        out.extend(self.worker_errors)
        if self.delivered_per_s <= 0 and not self.worker_errors:
            out.append("no message was delivered in the measurement window")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ok": self.ok,
            "duration_s": self.duration,
            "sent_per_s": round(self.sent_per_s, 1),
            "acked_per_s": round(self.acked_per_s, 1),
            "delivered_per_s": round(self.delivered_per_s, 1),
            "latency_ms": self.latency.summary(),
            "ack_latency_ms": self.ack_latency.summary(),
            "check": self.check.to_dict(),
            "skipped_sends": self.skipped,
            "error_codes": self.error_codes,
            "other_frames": self.other_frames,
            "closed_sockets": self.closed,
            "worker_errors": self.worker_errors,
            "problems": self.problems(),
            "config": self.config,
            "cpu": {
                "server_s": round(self.cpu.server_s, 2),
                "store_s": round(self.cpu.store_s, 2),
                "loadgen_s": round(self.cpu.loadgen_s, 2),
                "other_s": round(self.cpu.other_s, 2),
                "server_cpu_us_per_delivered_msg": round(self.server_cpu_us_per_msg, 1),
                "load_average_before": self.cpu.load_before,
                "load_average_after": self.cpu.load_after,
                "busy_machine": self.busy_machine,
            },
        }


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()}
