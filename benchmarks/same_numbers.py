"""Are two runs' numbers the same? Every metric of every model (original, retrain, each method), request by
request, compared exactly; timings, cache keys and paths are left out. For a code move that must not change
results (the redesign of issue 26): record a run before the move, run the same command after it, compare.

    python3 benchmarks/same_numbers.py BEFORE AFTER [--answers] [--strip OUT.json]

BEFORE and AFTER are run folders, results.json files, or files written by ``--strip`` (the numbers only, small
enough to commit as a baseline; with ``--answers``, every answer too). Methods recorded under a name that is now
a deprecated alias (``neggrad``, ``llm_npo``...) are compared under the algorithm's name (``ga``, ``npo``...); a
deprecated alias that presets parameters (``ga_klr``, ``lumoe_npo``) is named with its preset. ``--answers``
also compares every generated answer and its grade (generative tasks' answers/ folders).

Training on CPU is deterministic for one torch thread count, not across counts: runs trained with different
``torch_threads`` are reported as not comparable (exit 0, one line), never as equal or different.
Exit status: 0 same (or not comparable), 1 different (each difference printed), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# what differs between two identical runs: clocks, cache state, where the files went
VOLATILE = {"time_s", "eval_time_s", "train_time_s", "speedup_vs_retrain", "selection_time_s", "cached", "cache_key",
            "train_threads", "benchmark_time_s", "lmms_benchmark_time_s", "source", "plugin", "content_hash"}


def canonical_methods() -> dict[str, str]:
    """Deprecated method name -> the name results carry now (with its preset, if any)."""
    from mu_registry.registry.manager import get_registry

    return get_registry().method_renames()


def _bad(message: str) -> None:
    print(f"same_numbers: {message}", file=sys.stderr)
    raise SystemExit(2)


def load(path: Path, answers: bool = False) -> dict[str, Any]:
    if path.is_dir():
        found = sorted(path.rglob("results.json"))
        if len(found) != 1:
            _bad(f"{path}: expected one results.json under it, found {len(found)}")
        path = found[0]
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _bad(f"{path}: not a results file ({exc})")
    if doc.get("kind") == "stripped":
        return doc
    return strip(doc, path.parent if answers else None)


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def strip(doc: dict[str, Any], run_dir: Path | None) -> dict[str, Any]:
    """The numbers of a results document: per task, seed and model, the requests' metrics (and summaries,
    best epochs), plus the generated answers where the run folder has them."""
    renames = canonical_methods()
    out: dict[str, Any] = {"kind": "stripped", "torch_threads": doc.get("environment", {}).get("torch_threads"),
                           "git": doc.get("environment", {}).get("git"), "tasks": {}}
    for task_name, task in sorted(doc.get("tasks", {}).items()):
        for seed, seed_rec in sorted(task.get("seeds", {}).items()):
            models = {"original": seed_rec.get("original"), "retrain": seed_rec.get("retrain")}
            for method, rec in seed_rec.get("methods", {}).items():
                models[renames.get(method, method)] = rec
            for model, rec in models.items():
                if rec is None or (rec.get("status") == "not_applicable" and not rec.get("requests")):
                    continue  # no numbers (a method of the other task type: planning now leaves it out)
                key = f"{task_name}/seed{seed}/{model}"
                kept = {k: rec[k] for k in ("requests", "metrics", "summary", "status", "benchmarks") if k in rec}
                out["tasks"][key] = _numbers(kept)
                if run_dir is not None:
                    folder = run_dir / "answers" / task_name / f"seed{seed}" / _answer_folder(seed_rec, model, renames)
                    if folder.is_dir():
                        out["tasks"][key]["answers"] = {f.name: f.read_text() for f in sorted(folder.glob("*.jsonl"))}
    return out


def _answer_folder(seed_rec: dict[str, Any], model: str, renames: dict[str, str]) -> str:
    for method in seed_rec.get("methods", {}):
        if renames.get(method, method) == model:
            return method
    return model


def diff(a: Any, b: Any, where: str, out: list[str], answers: bool) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k == "answers" and not answers:
                continue
            if k not in a or k not in b:
                out.append(f"{where}/{k}: only in {'after' if k not in a else 'before'}")
            else:
                diff(a[k], b[k], f"{where}/{k}", out, answers)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{where}[{i}]", out, answers)
    elif a != b:
        out.append(f"{where}: before {str(a)[:80]!s}, after {str(b)[:80]!s}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path, nargs="?")
    ap.add_argument("--answers", action="store_true", help="also compare every generated answer and grade")
    ap.add_argument("--strip", type=Path, help="write BEFORE's numbers to this file (a baseline) and stop")
    args = ap.parse_args(argv)
    before = load(args.before, args.answers)
    if args.strip:
        args.strip.write_text(json.dumps(before, indent=1, sort_keys=True) + "\n")
        print(f"same_numbers: {len(before['tasks'])} models' numbers written to {args.strip}")
        return 0
    if args.after is None:
        ap.error("AFTER is needed (or --strip OUT)")
    after = load(args.after, args.answers)
    if before["torch_threads"] != after["torch_threads"]:
        print(f"same_numbers: not comparable: trained with {before['torch_threads']} torch thread(s) before, "
              f"{after['torch_threads']} after (CPU training is deterministic per thread count)")
        return 0
    out: list[str] = []
    diff(before["tasks"], after["tasks"], "", out, args.answers)
    models = len(before["tasks"])
    if out:
        print(f"same_numbers: {len(out)} difference(s) over {models} models:")
        print("\n".join("  " + line for line in out[:200]))
        return 1
    what = "metrics and answers" if args.answers else "metrics"
    print(f"same_numbers: identical {what} for {models} models (task/seed/model), {before['torch_threads']} thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
