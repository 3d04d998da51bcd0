"""Tables for generative (lifelong) tasks: the state after the last request, the curve over
requests, and MLUBench's "task X after unlearning Y" matrix. Seeds are averaged (± std)."""

from __future__ import annotations

from typing import Any

from mu_registry.evaluation.judging import judge_label
from mu_registry.report._format import ORIGINAL_ROW, fmt_values as _fmt

SUMMARY = (("forget_accuracy", "forget acc"), ("forget_quality", "forget quality"),
           ("paraphrase_accuracy", "paraphrase acc"), ("retain_accuracy", "retain acc"),
           ("retain_utility", "retain utility"), ("general_accuracy", "general acc"))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    return ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths),
            *("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)]


def _methods(task: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for seed_rec in task.get("seeds", {}).values():
        names += [m for m in seed_rec.get("methods", {}) if m not in names]
    return names


def _requests(task: dict[str, Any], method: str) -> list[list[dict[str, Any]]]:
    """Per seed, the method's request records."""
    return [s["methods"][method].get("requests", []) for s in task.get("seeds", {}).values()
            if method in s.get("methods", {})]


def _summary_columns(task: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The summary columns, with lm-eval's general benchmark where the task ran one, and the judge that
    gave the forget quality beside it."""
    ran = any("general_benchmark" in (s.get("original") or {}).get("summary", {})
              for s in task.get("seeds", {}).values())
    judge = judge_label(task.get("judge"))
    columns = tuple((k, f"{h} [{judge}]" if judge and k == "forget_quality" else h) for k, h in SUMMARY)
    return columns + ((("general_benchmark", "lm-eval general"),) if ran else ())


def render_generation_task(name: str, task: dict[str, Any]) -> str:
    SUMMARY = _summary_columns(task)  # noqa: N806 - the module-level columns, extended for this task
    reqs = task.get("requests", [])
    sizes = task.get("sizes", {})
    title = (f"{name}: model {task.get('model')}, {len(reqs)} lifelong requests "
             f"({', '.join(r['name'] for r in reqs)}), {sizes.get('train')} training QA, "
             f"seeds {', '.join(task.get('seeds', {}))}")
    lines = [title, "", "After the last request (forget: every forget set so far; retain: every retain set):"]
    rows = []
    originals = [s.get("original", {}).get("summary", {}) for s in task.get("seeds", {}).values()]
    rows.append([ORIGINAL_ROW] + [_fmt([o.get(k) for o in originals]) for k, _ in SUMMARY] + ["-"])
    for method in _methods(task):
        per_seed = _requests(task, method)
        statuses = [s["methods"][method].get("status") for s in task["seeds"].values() if method in s["methods"]]
        if statuses and all(st == "not_applicable" for st in statuses):
            rows.append([method] + ["n/a"] * len(SUMMARY) + ["-"])
            continue
        if "failed" in statuses:
            rows.append([method] + ["failed"] * len(SUMMARY) + ["-"])
            continue
        done = [len(r) for r in per_seed]
        label = method if not done or min(done) >= len(reqs) else f"{method} ({min(done)}/{len(reqs)} requests)"
        last = [r[-1]["summary"] for r in per_seed if r]
        times = [sum(x.get("time_s", 0) for x in r) for r in per_seed if r]
        rows.append([label] + [_fmt([s.get(k) for s in last]) for k, _ in SUMMARY] + [_fmt(times)])
    lines += _table(["model"] + [h for _, h in SUMMARY] + ["unlearn_s"], rows)

    for method in _methods(task):
        per_seed = [r for r in _requests(task, method) if r]
        if not per_seed:
            continue
        n = max(len(r) for r in per_seed)
        lines += ["", f"{method}: over requests (forget so far / retain / general)"]
        rows = [[f"after {reqs[i]['name'] if i < len(reqs) else i}"]
                + [_fmt([r[i]["summary"].get(k) for r in per_seed if len(r) > i]) for k, _ in SUMMARY]
                for i in range(n)]
        lines += _table(["request"] + [h for _, h in SUMMARY], rows)
        lines += ["", f"{method}: forget-set accuracy, task X (columns) after unlearning Y (rows)"]
        names = [r["name"] for r in reqs]
        orig = [[s.get("original", {}).get("metrics", {}).get(f"forget_{x}", {}).get("accuracy")
                 for s in task["seeds"].values()] for x in names]
        rows = [["before"] + [_fmt(o) for o in orig]]
        rows += [[f"after {names[i]}"] + [_fmt([r[i]["metrics"].get(f"forget_{x}", {}).get("accuracy")
                                                for r in per_seed if len(r) > i]) for x in names] for i in range(n)]
        lines += _table(["unlearned"] + names, rows)
    return "\n".join(lines)
