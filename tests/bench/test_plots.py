"""The plots of a small results JSON are written as real, non-empty PNG files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from bench import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def results() -> dict[str, Any]:
    def run(label: str, rate: float, cpu: float) -> dict[str, Any]:
        return {
            "label": label,
            "ok": True,
            "delivered_per_s": rate,
            "latency_ms": {"p50": 1.0, "p99": 2.0},
            "cpu": {"server_cpu_us_per_delivered_msg": cpu},
        }

    return {
        "scenario": "compare",
        "runs": [run("relay", 40_000, 16), run("pigeon", 800, 1500), run("synapse", 30, 20_000)],
        "latency_cdf_ms": {
            "relay": [[0.0, 0.1], [50.0, 1.0], [100.0, 5.0]],
            "pigeon": [[0.0, 10.0], [50.0, 50.0], [100.0, 90.0]],
            "synapse": [[0.0, 100.0], [50.0, 300.0], [100.0, 900.0]],
        },
    }


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    assert len(data) > 1000, path


def test_writes_every_plot(tmp_path: Path) -> None:
    hot = tmp_path / "hot.json"
    hot.write_text(json.dumps({"arrival_ms": [float(i % 97) for i in range(500)]}))
    written = plots.write_plots(results(), tmp_path / "out", hot)
    names = {p.name for p in written}
    assert names == {plots.THROUGHPUT, plots.CPU, plots.LATENCY_CDF, plots.HOT_GROUP}
    for path in written:
        assert_png(path)


def test_results_without_cdf_points_skip_the_cdf(tmp_path: Path) -> None:
    data = results()
    del data["latency_cdf_ms"]
    data["runs"].append({"label": "failed", "delivered_per_s": 0, "cpu": {}})
    written = plots.write_plots(data, tmp_path)
    assert {p.name for p in written} == {plots.THROUGHPUT, plots.CPU}
    for path in written:
        assert_png(path)


def test_hot_group_json_must_have_arrival_ms(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"arrivals": [1, 2]}))
    with pytest.raises(ValueError, match="arrival_ms"):
        plots.load_arrivals(bad)


def test_plot_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "compare.json"
    source.write_text(json.dumps(results()))
    args = argparse.Namespace(results=source, plots=tmp_path / "png", hot_group_json=None)
    assert plots.plot_main(args) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 3
    for line in printed:
        assert_png(Path(line))


def test_a_failed_run_is_marked() -> None:
    data = results()
    data["runs"][1]["ok"] = False
    assert plots.shown_label(data, "pigeon") == "pigeon\n(check FAILED)"
    assert plots.shown_label(data, "relay") == "relay"
