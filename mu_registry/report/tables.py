"""Human-readable tables from a results document."""

from __future__ import annotations

from typing import Any

from mu_registry.report._format import ORIGINAL_ROW, RETRAIN_ROW, SET_ORDER, fmt_values as _fmt, model_records
from mu_registry.report.generative_tables import render_generation_task


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
            row = rows.setdefault(name, {"status": [], "time": [], "done": []})
            if rec.get("status") == "not_applicable":
                row["status"].append("n/a")
                continue
            if rec.get("status") == "failed":
                row["status"].append("failed")
                continue
            row["done"].append(len(reqs))
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
    nreq = len(task.get("sizes", {}).get("requests", [])) or 1
    for name, row in rows.items():
        if row["status"] and all(s == "n/a" for s in row["status"]):
            table.append([name] + ["n/a"] * len(columns) + ["-"])
            continue
        if "failed" in row["status"]:  # a failed seed makes the row's numbers incomplete: none shown
            table.append([name] + ["failed"] * len(columns) + ["-"])
            continue
        if name not in (ORIGINAL_ROW, RETRAIN_ROW) and row["done"] and min(row["done"]) < nreq:
            name = f"{name} ({min(row['done'])}/{nreq} requests)"  # an unfinished method: not the final numbers
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
    lines = [title] + ([group_line] if group_line.strip() else [])
    lines += ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
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


def _request_count(task: dict[str, Any]) -> int | None:
    if task.get("task_type") == "generation":
        return len(task["requests"]) if "requests" in task else None
    sizes = task.get("sizes", {})
    return len(sizes["requests"]) if "requests" in sizes else None


def _spans(indices: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    out: list[str] = []
    for i in indices:
        if out and out[-1].split("-")[-1] == str(i - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ", ".join(out)


def run_status(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What a run lacks: (missing, failed), one line per task and seed. Missing lists the methods that
    did not start and the requests of those that did not finish; failed names each failed record."""
    missing: list[str] = []
    failed: list[str] = []
    plan = results.get("plan", {})
    tasks = results.get("tasks", {})
    seeds = [str(s) for s in results.get("config", {}).get("seeds", [])]
    for name in dict.fromkeys([*plan, *tasks]):
        task = tasks.get(name, {})
        n = _request_count(task)
        for seed in seeds or list(task.get("seeds", {})):
            seed_rec = task.get("seeds", {}).get(seed)
            if seed_rec is None or (n is None and seed_rec.get("status") != "failed"):
                missing.append(f"{name} seed {seed}: not started")
                continue
            if seed_rec.get("status") == "failed":
                failed.append(f"{name} seed {seed}: {seed_rec.get('error')}")
                continue
            gaps = []
            methods = seed_rec.get("methods", {})
            for method in dict.fromkeys([*plan.get(name, []), *methods]):
                rec = methods.get(method)
                if rec is None:
                    gaps.append(f"{method} not started")
                    continue
                status, done = rec.get("status"), len([r for r in rec.get("requests", []) if r])
                if status == "failed":
                    failed.append(f"{name} seed {seed} {method} at request {rec.get('failed_request')}: "
                                  f"{rec.get('error')}")
                elif status not in ("done", "not_applicable") and n is not None and done < n:
                    gaps.append(f"{method} requests {_spans(list(range(done, n)))}")
            if gaps:
                missing.append(f"{name} seed {seed}: {', '.join(gaps)}")
    return missing, failed


def status_lines(results: dict[str, Any], run_dir: Any = None) -> list[str]:
    """Lines for the top of a report: whether the run is incomplete, what is missing or failed, and
    the command that resumes it."""
    from pathlib import Path

    missing, failed = run_status(results)
    folder = run_dir if run_dir is not None else Path(results.get("config", {}).get("output", "results")) / str(
        results.get("run_id", "RUN_DIR"))
    lines: list[str] = []
    status = results.get("status", "running")
    if status != "done" or missing:
        lines.append(f"INCOMPLETE RUN (status: {status}); numbers of unfinished methods are not final.")
        lines += [f"  missing: {m}" for m in missing]
        lines.append(f"  resume with: mu-eval run --resume {folder}")
    if failed:
        lines.append(f"FAILED ({len(failed)}); a failed method never stops the others:")
        lines += [f"  failed: {f}" for f in failed]
        lines.append(f"  run them again with: mu-eval run --resume {folder} --retry-failed")
    return lines


def render_tables(results: dict[str, Any], run_dir: Any = None) -> str:
    parts = [render_generation_task(name, task) if task.get("task_type") == "generation" else render_task(name, task)
             for name, task in results.get("tasks", {}).items()]
    kinds = {task.get("task_type") == "generation" for task in results.get("tasks", {}).values()}
    notes = []
    if False in kinds:  # a classification task: its reference rows and its time column
        notes.append("[original] and [retrain] are the reference models. "
                     "time_s: training time for original and retrain (from when it was trained, if cached), "
                     "unlearning time for methods. Metrics are for the last request; ± is the std over seeds.")
    if True in kinds:  # a generative task: what its two kinds of score add to each other
        notes.append("acc: answers that contain the reference in full (normalised words, in order). "
                     "forget quality / retain utility: MLUBench's 0/1/2 rubric / 2, by the judge named in brackets "
                     "(a correct answer in other words or with a flaw counts there; a refusal is forget quality "
                     "2, utility 0); mu-eval report RUN_DIR --answers shows the answers and the rule behind each "
                     "grade. unlearn_s: unlearning time summed over the requests.")
    head = status_lines(results, run_dir)
    return "\n\n".join((["\n".join(head)] if head else []) + parts + notes) + "\n"


__all__ = ["ORIGINAL_ROW", "RETRAIN_ROW", "SET_ORDER", "model_records", "render_tables", "render_task", "run_status",
           "status_lines", "task_rows"]
