"""What every figure shares: the atomic PNG write, the title and close, labelled bars, safe file names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mu_registry.util.rank import is_main


def _save(fig: Any, path: Path) -> None:
    """Write atomically: a half-written PNG never replaces a good one (rank 0 only, under a launcher)."""
    if not is_main():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)


def finish(fig: Any, title: str, path: Path) -> Path:
    """Title, layout, atomic write, close: the end of every figure."""
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def label_bars(ax: Any, positions: list[float], values: list[float | None], *, horizontal: bool = False,
               fmt: str = "{:.2f}") -> None:
    """A marker at each bar's value and the value written beside it, so that a bar of height 0 (a method that
    forgets everything, the retrain model on the forget set) is seen as 0, not as a missing bar; a bar with no
    value (nan) is labelled "n/a"."""
    import math

    for pos, value in zip(positions, values):
        missing = value is None or math.isnan(value)
        v = 0.0 if missing else float(value)
        text = "n/a" if missing else fmt.format(v)
        if horizontal:
            ax.plot([v], [pos], marker="|", color="black", markersize=9)
            ax.annotate(text, (v, pos), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        else:
            ax.plot([pos], [v], marker="_", color="black", markersize=9)
            ax.annotate(text, (pos, v), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=6)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
