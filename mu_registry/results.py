"""Human-readable tables from a results document."""

from __future__ import annotations

import math
import statistics
from typing import Any

SET_ORDER = ("forget", "retain", "test")
# reference rows, named apart from methods (there is a method called "retrain")
ORIGINAL_ROW = "[original]"
RETRAIN_ROW = "[retrain]"


def _fmt(values: list[float]) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    return f"{mean:.3f}±{statistics.stdev(values):.3f}"


def _columns(metrics: dict[str, Any]) -> list[tuple[str, str | None]]:
    cols: list[tuple[str, str | None]] = []
    for name, value in metrics.items():
        if isinstance(value, dict):
            keys = [k for k in SET_ORDER if k in value] + (["avg"] if "avg" in value else [])
            cols.extend((name, k) for k in (keys or list(value)))
        else:
            cols.append((name, None))
    return cols


def _value(metrics: dict[str, Any], col: tuple[str, str | None]) -> float | None:
    v = metrics.get(col[0])
    if col[1] is None:
        return v if not isinstance(v, dict) else None
    return v.get(col[1]) if isinstance(v, dict) else None


def model_records(seed_rec: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """(row name, record) for one seed: the original, the retrain reference, then each method."""
    return [(ORIGINAL_ROW, seed_rec.get("original")), (RETRAIN_ROW, seed_rec.get("retrain")),
            *seed_rec.get("methods", {}).items()]


def task_rows(task: dict[str, Any]) -> tuple[list[tuple[str, str | None]], list[list[str]]]:
    """Columns and rows (original, retrain, methods) for the final request, seeds aggregated."""
    seeds = task.get("seeds", {})
    rows: dict[str, dict[str, list]] = {}
    columns: list[tuple[str, str | None]] = []
    for seed_rec in seeds.values():
        for name, rec in model_records(seed_rec):
            if not rec:
                continue
            reqs = [r for r in rec.get("requests", []) if r]
            row = rows.setdefault(name, {"status": [], "time": []})
            if rec.get("status") == "not_applicable":
                row["status"].append("n/a")
                continue
            if not reqs:
                continue
            last = reqs[-1]
            if not columns:
                columns = _columns(last["metrics"])
            for col in columns:
                row.setdefault(col, []).append(_value(last["metrics"], col))
            if name == ORIGINAL_ROW:
                row["time"].append(rec.get("train_time_s"))
            elif name == RETRAIN_ROW:
                row["time"].append(sum(r.get("train_time_s", 0) for r in reqs))
            else:
                row["time"].append(sum(r.get("time_s", 0) for r in reqs))
    table = []
    for name, row in rows.items():
        if row["status"] and all(s == "n/a" for s in row["status"]):
            table.append([name] + ["n/a"] * len(columns) + ["-"])
            continue
        table.append([name] + [_fmt(row.get(col, [])) for col in columns] + [_fmt(row["time"])])
    return columns, table


def render_task(name: str, task: dict[str, Any]) -> str:
    columns, table = task_rows(task)
    groups = [""] + [m if (i == 0 or columns[i - 1][0] != m) and s else ("" if s else "") for i, (m, s) in
                     enumerate(columns)] + [""]
    header = ["model"] + [s if s else m for m, s in columns] + ["time_s"]
    sizes = task.get("sizes", {})
    nreq = len(sizes.get("requests", [])) or 1
    title = (f"{name}: model {task.get('model')}, forget {sizes.get('forget')} of {sizes.get('train')} train "
             f"examples in {nreq} request{'s' if nreq > 1 else ''}, seeds {', '.join(task.get('seeds', {}))}")
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(header)]
    group_line = _group_line(groups, widths)
    lines = [title] + ([group_line] if group_line.strip() else []) + ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in table]
    return "\n".join(lines)


def _group_line(groups: list[str], widths: list[int]) -> str:
    """Metric names above their set columns, each spanning the columns it heads."""
    out, i = [], 0
    while i < len(groups):
        j = i + 1
        while j < len(groups) and groups[j] == "" and groups[i] != "" and j < len(groups) - 1:
            j += 1
        span = sum(widths[i:j]) + 2 * (j - i - 1)
        out.append(groups[i][:span].ljust(span))
        i = j
    return "  ".join(out).rstrip()


def render_tables(results: dict[str, Any]) -> str:
    from .lifelong_results import render_generation_task

    parts = [render_generation_task(name, task) if task.get("task_type") == "generation" else render_task(name, task)
             for name, task in results.get("tasks", {}).items()]
    note = ("[original] and [retrain] are the reference models. "
            "time_s: training time for original and retrain (from when it was trained, if cached), "
            "unlearning time for methods. Metrics are for the last request; ± is the std over seeds.")
    return "\n\n".join(parts + [note]) + "\n"
