"""PNG plots of a results JSON: throughput, latency CDF and CPU per message of each system,
and the arrival times of a hot-group run.

Rates differ by three orders of magnitude between the relay and the slowest server, so
the bars and the latency axis are logarithmic. matplotlib is imported only when plotting,
so the other scenarios do not pay for it (and run without it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DEFAULT_DIR = Path(__file__).resolve().parent / "results" / "plots"
THROUGHPUT = "throughput.png"
LATENCY_CDF = "latency-cdf.png"
CPU = "cpu-per-message.png"
HOT_GROUP = "hot-group-arrivals.png"


def measured(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs that delivered something (a failed start has nothing to draw)."""
    return [run for run in results.get("runs", []) if run.get("delivered_per_s", 0) > 0]


def shown_label(results: dict[str, Any], label: str) -> str:
    """The run's label, marked when its correctness check failed: its figures stand, but
    not as a passing run's."""
    for run in results.get("runs", []):
        if run.get("label") == label and run.get("ok") is False:
            return f"{label}\n(check FAILED)"
    return label


def _figure(width: float = 7.0, height: float = 4.0) -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _bars(
    runs: list[dict[str, Any]], values: list[float], ylabel: str, title: str, path: Path
) -> Path:
    fig, ax = _figure()
    labels = [shown_label({"runs": runs}, run["label"]) for run in runs]
    bars = ax.bar(labels, values, color=[f"C{i}" for i in range(len(runs))])
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:.2g}" for v in values])
    ax.tick_params(axis="x", labelrotation=15)
    ax.margins(y=0.15)
    return _save(fig, path)


def throughput_plot(results: dict[str, Any], path: Path) -> Path:
    runs = measured(results)
    values = [float(run["delivered_per_s"]) for run in runs]
    return _bars(runs, values, "messages delivered / s (log)", "Throughput, 1:1 closed loop", path)


def cpu_plot(results: dict[str, Any], path: Path) -> Path:
    runs = [r for r in measured(results) if r.get("cpu", {}).get("server_cpu_us_per_delivered_msg")]
    values = [float(run["cpu"]["server_cpu_us_per_delivered_msg"]) for run in runs]
    return _bars(runs, values, "server CPU µs per message (log)", "CPU per delivered message", path)


def latency_cdf_plot(results: dict[str, Any], path: Path) -> Path | None:
    """All systems on one axis; None when the JSON has no CDF points (older scenarios)."""
    cdfs: dict[str, list[list[float]]] = results.get("latency_cdf_ms") or {}
    shown = [(label, points) for label, points in cdfs.items() if points]
    if not shown:
        return None
    fig, ax = _figure()
    for i, (label, points) in enumerate(shown):
        ms = [max(p[1], 0.01) for p in points]
        ax.plot(ms, [p[0] / 100 for p in points], label=shown_label(results, label), color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel("delivery latency, ms (log)")
    ax.set_ylabel("fraction of messages")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("Latency CDF, sender to receiver")
    return _save(fig, path)


def load_arrivals(path: Path) -> list[float]:
    """The "arrival_ms" list of a hot-group results JSON."""
    data = json.loads(path.read_text())
    values = data.get("arrival_ms") if isinstance(data, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        raise ValueError(f'{path}: wants a JSON object with a list of numbers under "arrival_ms"')
    return [float(v) for v in values]


def hot_group_plot(arrivals: list[float], path: Path, title: str = "Hot group") -> Path:
    """Histogram and CDF of per-arrival latencies, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    ordered = sorted(arrivals)
    hist.hist(ordered, bins=min(60, max(5, len(ordered) // 20)), color="C0")
    hist.set_xlabel("arrival latency, ms")
    hist.set_ylabel("arrivals")
    hist.set_title(f"{title}: {len(ordered):,} arrivals")
    if ordered:
        cdf.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], color="C1")
    cdf.set_xlabel("arrival latency, ms")
    cdf.set_ylabel("fraction of arrivals")
    cdf.set_ylim(0, 1.01)
    cdf.grid(True, alpha=0.3)
    cdf.set_title("CDF")
    return _save(fig, path)


def write_plots(
    results: dict[str, Any], out_dir: Path, hot_group: Path | None = None
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [throughput_plot(results, out_dir / THROUGHPUT), cpu_plot(results, out_dir / CPU)]
    cdf = latency_cdf_plot(results, out_dir / LATENCY_CDF)
    if cdf is not None:
        written.append(cdf)
    if hot_group is not None:
        written.append(hot_group_plot(load_arrivals(hot_group), out_dir / HOT_GROUP))
    return written


def add_plot_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plots",
        type=Path,
        default=DEFAULT_DIR,
        help=f"folder for the PNGs (default {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--hot-group-json",
        type=Path,
        default=None,
        help='a hot-group results JSON ("arrival_ms": [...]) to plot as well',
    )


def plot_main(args: argparse.Namespace) -> int:
    results = json.loads(Path(args.results).read_text())
    for path in write_plots(results, args.plots, args.hot_group_json):
        print(path)
    return 0
