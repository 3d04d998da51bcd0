"""Plots of a generative (lifelong) task, written next to results.json.

* ``<task>-requests.png``: accuracy after every request on the forget sets unlearned so far, their
  paraphrases, every retain set and the general set; one line per method, the original dashed
  (PULSE's figure of sequential requests).
* ``<task>-kept.png``: each set's accuracy after the last request as a percentage of the original
  model's, multimodal and text-only probes apart (PULSE's comparison of what unlearning keeps).
* ``<task>-matrix-<method>.png``: MLUBench's "task X after unlearning Y" heat map of forget-set
  accuracy, with the original's row first.

Means over seeds.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from mu_registry.report._figure import finish, label_bars, safe_name as _safe

CURVES = (("forget_accuracy", "forgotten so far"), ("paraphrase_accuracy", "their paraphrases"),
          ("retain_accuracy", "retain sets"), ("general_accuracy", "general (untouched)"))


def _mean(values: list[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else float("nan")


def _method_runs(task: dict[str, Any]) -> dict[str, list[list[dict[str, Any]]]]:
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for seed in task.get("seeds", {}).values():
        for name, rec in seed.get("methods", {}).items():
            if rec.get("requests"):
                out.setdefault(name, []).append(rec["requests"])
    return out


def plot_generation_task(name: str, task: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _method_runs(task)
    originals = [s.get("original", {}) for s in task.get("seeds", {}).values() if s.get("original")]
    if not runs or not originals:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    names = [r["name"] for r in task.get("requests", [])]

    fig, axes = plt.subplots(1, len(CURVES), figsize=(4.0 * len(CURVES), 3.6), sharey=True)
    for ax, (key, title) in zip(axes, CURVES):
        n = max(len(r) for rs in runs.values() for r in rs)
        xs = list(range(1, n + 1))
        ax.plot(xs, [_mean([o.get("summary", {}).get(key) for o in originals])] * n, "--", color="#888888",
                label="[original]")
        for method, rs in runs.items():
            ax.plot(xs, [_mean([r[i]["summary"].get(key) if len(r) > i else None for r in rs]) for i in range(n)],
                    marker="o", label=method)
        ax.set_title(f"accuracy: {title}")
        ax.set_xlabel("after request")
        # integer ticks, one per request: its name (MLUBench's A-D) or its number, counted from 1 as xs are
        ax.set_xticks(xs, [names[i] if i < len(names) else str(x) for i, x in enumerate(xs)])
        ax.set_ylim(0, 1.02)
    axes[0].legend(fontsize=7)
    written.append(finish(fig, f"{name}: accuracy after each request", out_dir / f"{_safe(name)}-requests.png"))

    # percentage of the original's accuracy kept, per set kind and probe form, after the last request
    groups = [("forget", "forget_"), ("retain", "retain_"), ("general", "general")]
    forms = ("multimodal", "text")
    fig, axes = plt.subplots(1, len(forms), figsize=(5.0 * len(forms), 3.4), sharey=True)
    for ax, form in zip(axes, forms):
        width = 0.8 / max(1, len(runs))
        for k, (method, rs) in enumerate(runs.items()):
            vals = []
            for _, prefix in groups:
                kept = []
                for seed_runs, orig in zip(rs, originals):
                    last = seed_runs[-1]["metrics"]
                    for set_name, m in last.items():
                        if not set_name.startswith(prefix):
                            continue
                        o = orig.get("metrics", {}).get(set_name, {})
                        a = m.get("by_form", {}).get(form, m if "by_form" not in m else {}).get("accuracy")
                        b = o.get("by_form", {}).get(form, o if "by_form" not in o else {}).get("accuracy")
                        if a is not None and b:
                            kept.append(100.0 * a / b)
                vals.append(_mean(kept))
            xs = [g + k * width for g in range(len(groups))]
            ax.bar(xs, vals, width, label=method)
            label_bars(ax, xs, vals, fmt="{:.0f}")
        ax.axhline(100, color="#888888", linestyle="--", linewidth=1)
        ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))], [g for g, _ in groups])
        ax.set_title(f"{form} probes")
        ax.set_ylabel("% of the original's accuracy")
    axes[0].legend(fontsize=7)
    written.append(finish(fig, f"{name}: accuracy kept after the last request", out_dir / f"{_safe(name)}-kept.png"))

    for method, rs in runs.items():
        n = max(len(r) for r in rs)
        grid = [[_mean([o.get("metrics", {}).get(f"forget_{x}", {}).get("accuracy") for o in originals])
                 for x in names]]
        grid += [[_mean([r[i]["metrics"].get(f"forget_{x}", {}).get("accuracy") if len(r) > i else None for r in rs])
                  for x in names] for i in range(n)]
        fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2.2, 0.55 * len(grid) + 1.6))
        im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black",
                        fontsize=8)
        ax.set_xticks(range(len(names)), [f"task {x}" for x in names])
        ax.set_yticks(range(len(grid)), ["before"] + [f"after {names[i] if i < len(names) else i}" for i in range(n)])
        fig.colorbar(im, ax=ax, fraction=0.05)
        written.append(finish(fig, f"{name}, {method}: forget-set accuracy, task X after unlearning Y",
                              out_dir / f"{_safe(name)}-matrix-{_safe(method)}.png"))
    return written
