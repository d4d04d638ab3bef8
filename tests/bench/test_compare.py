"""The comparison's ratios, table and JSON, from figures made up for the purpose."""

from __future__ import annotations

import json

from bench.compare import compare_table, payload, ratios
from bench.cpu import CpuWindow
from bench.stats import Latency, RunFigures


def run(label: str, rate: float, p50: float, p99: float, cpu_s: float) -> RunFigures:
    cdf = [(0.0, p50 / 2), (50.0, p50), (99.0, p99), (100.0, p99 * 1.5)]
    return RunFigures(
        label=label,
        duration=10.0,
        sent_per_s=rate,
        acked_per_s=rate,
        delivered_per_s=rate,
        latency=Latency(count=int(rate * 10), p50=p50, p99=p99, cdf=cdf),
        cpu=CpuWindow(server_s=cpu_s),
    )


def test_ratios_are_relative_to_the_relay() -> None:
    relay = run("relay", 40_000, 1.0, 10.0, 4.0)  # 10 us per message
    slow = run("synapse", 40, 100.0, 500.0, 4.0)  # 10,000 us per message
    got = ratios(slow, relay)
    assert got == {
        "delivered_per_s": 0.001,
        "p50_ms": 100.0,
        "p99_ms": 50.0,
        "cpu_us_per_msg": 1000.0,
    }
    assert ratios(relay, relay) == dict.fromkeys(got, 1.0)


def test_ratio_is_none_when_the_relay_figure_is_zero() -> None:
    relay = run("relay", 40_000, 0.0, 10.0, 4.0)
    assert ratios(run("x", 10, 5.0, 6.0, 1.0), relay)["p50_ms"] is None


def test_table_has_one_row_per_system_with_its_ratios() -> None:
    relay = run("relay", 40_000, 1.0, 10.0, 4.0)
    pigeon = run("pigeon embedded", 800, 50.0, 80.0, 12.0)
    lines = compare_table([relay, pigeon], relay).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("system")
    assert lines[2].split()[:3] == ["relay", "40,000", "1x"]
    row = lines[3]
    assert row.startswith("pigeon embedded")
    for cell in ("800", "0.02x", "50.0", "50x", "80.0", "8x", "1,500", "150x", "ok"):
        assert cell in row.split(), cell


def test_payload_carries_ratios_and_cdf_points() -> None:
    relay = run("relay", 40_000, 1.0, 10.0, 4.0)
    pigeon = run("pigeon embedded", 800, 50.0, 80.0, 12.0)
    data = json.loads(json.dumps(payload([relay, pigeon], relay, {"skipped": {}})))
    assert data["scenario"] == "compare"
    assert data["baseline"] == "relay"
    assert data["ratios_vs_relay"]["pigeon embedded"]["delivered_per_s"] == 0.02
    assert data["latency_cdf_ms"]["pigeon embedded"][1] == [50.0, 50.0]
    assert [r["label"] for r in data["runs"]] == ["relay", "pigeon embedded"]
    assert "cdf" not in data["runs"][0]["latency_ms"]
