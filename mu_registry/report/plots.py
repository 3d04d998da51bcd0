"""Plots of a results document (matplotlib, written as PNG next to results.json).

* ``<task>-accuracy.png``: accuracy on the forget, retain and test sets after the last request,
  one group of bars per model (original, retrain, each method), with the retrain model's
  accuracy drawn across each panel: a method is good where its bars meet that line.
* ``<task>-requests.png`` (tasks with several requests): accuracy on each set after every
  request, one line per method, the retrain references dashed.

Means over seeds; error bars are the standard deviation where there are several seeds.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from mu_registry.report._figure import finish, label_bars, safe_name as _safe
from mu_registry.report._format import ORIGINAL_ROW, RETRAIN_ROW, model_records
from mu_registry.report.generative_plots import plot_generation_task

SETS = ("forget", "retain", "test")


def _accuracy(request: dict[str, Any] | None, set_name: str) -> float | None:
    if not request:
        return None
    acc = request.get("metrics", {}).get("accuracy")
    return acc.get(set_name) if isinstance(acc, dict) else None


def _series(task: dict[str, Any]) -> dict[str, list[list[dict[str, Any]]]]:
    """model name -> per seed, its request records (original and retrain first)."""
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for seed in task.get("seeds", {}).values():
        for name, rec in model_records(seed):
            if rec and rec.get("status") != "not_applicable" and rec.get("requests"):
                out.setdefault(name, []).append([r for r in rec["requests"] if r])
    return out


def _mean_std(values: list[float | None]) -> tuple[float, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def plot_task(name: str, task: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = _series(task)
    if not series:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    models = list(series)

    fig, axes = plt.subplots(1, len(SETS), figsize=(4.2 * len(SETS), 0.35 * len(models) + 1.8), sharey=True)
    for ax, set_name in zip(axes, SETS):
        stats = [_mean_std([_accuracy(reqs[-1], set_name) for reqs in series[m]]) for m in models]
        ys = range(len(models))
        ax.barh(list(ys), [s[0] if s else 0 for s in stats], xerr=[s[1] if s else 0 for s in stats],
                color=["#888888" if m == ORIGINAL_ROW else "#4c72b0" if m in (RETRAIN_ROW, "retrain") else "#dd8452"
                       for m in models])
        label_bars(ax, list(ys), [s[0] if s else None for s in stats], horizontal=True)
        ref = stats[models.index(RETRAIN_ROW)] if RETRAIN_ROW in models else None
        if ref:
            ax.axvline(ref[0], color="#4c72b0", linestyle="--", linewidth=1)
        ax.set_title(f"{set_name} accuracy")
        ax.set_xlim(0, 1.12)  # room for the value labels
        ax.set_yticks(list(ys), models)
        ax.invert_yaxis()
    written.append(finish(fig, f"{name}: after the last request (dashed: retrain)",
                          out_dir / f"{_safe(name)}-accuracy.png"))

    n_requests = max(len(reqs) for runs in series.values() for reqs in runs)
    if n_requests > 1:
        fig, axes = plt.subplots(1, len(SETS), figsize=(4.2 * len(SETS), 3.6), sharey=True)
        for ax, set_name in zip(axes, SETS):
            for m in models:
                points = []
                for i in range(n_requests):
                    st = _mean_std([_accuracy(reqs[i] if i < len(reqs) else None, set_name) for reqs in series[m]])
                    points.append(st[0] if st else float("nan"))
                style = "--" if m in (ORIGINAL_ROW, RETRAIN_ROW) else "-"
                ax.plot(range(1, n_requests + 1), points, style, marker="o", label=m)
            ax.set_title(f"{set_name} accuracy")
            ax.set_xlabel("after request")
            ax.set_xticks(range(1, n_requests + 1))  # requests are counted: integer ticks only
            ax.set_ylim(0, 1.02)
        axes[0].legend(fontsize=7)
        written.append(finish(fig, f"{name}: accuracy after each request", out_dir / f"{_safe(name)}-requests.png"))
    return written


def write_plots(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Every task's plots under ``out_dir``; returns the files written."""
    written: list[Path] = []
    for name, task in results.get("tasks", {}).items():
        if task.get("task_type") == "generation":
            written += plot_generation_task(name, task, out_dir)
        else:
            written += plot_task(name, task, out_dir)
    return written


__all__ = ["finish", "label_bars", "plot_task", "write_plots"]
