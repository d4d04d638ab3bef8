"""A live progress bar (tqdm when installed, a plain line per second otherwise)."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    def __init__(self, label: str, total_s: float, enabled: bool = True) -> None:
        self.label = label
        self.total = total_s
        self.enabled = enabled
        self.bar: Any = None
        self.last_line = 0.0
        self.shown = 0.0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is in bench/requirements.txt
            return
        self.bar = tqdm(
            total=round(total_s, 1),
            desc=label,
            unit="s",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f}s{postfix}",
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def update(self, elapsed: float, phase: str, rates: dict[str, float]) -> None:
        if not self.enabled:
            return
        text = " ".join(f"{k}={v:,.0f}/s" for k, v in rates.items())
        elapsed = min(elapsed, self.total)
        if self.bar is not None:
            self.bar.update(round(elapsed - self.shown, 1))
            self.shown += round(elapsed - self.shown, 1)
            self.bar.set_postfix_str(f"[{phase}] {text}", refresh=True)
            return
        now = time.monotonic()
        if now - self.last_line >= 1.0:
            self.last_line = now
            print(
                f"{self.label}: {elapsed:5.1f}/{self.total:.1f}s [{phase}] {text}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
