"""Time a 4-request lifelong run on `mlubench-mini` against its 15-minute target, and print what the
run measured request by request.

One cold run (empty model cache: the tiny LLaVA learns the entity world first) of

    mu-eval run --tasks mlubench-mini --methods ga,llm_npo,lumoe

Prints its wall time and the ratio to the target, the time split between training the original,
unlearning and evaluating, the judge that graded the answers, and for each method after each request:
forget quality under the judge (MLUBench's 0-2 rubric / 2) on the forgotten facts and their
paraphrases, utility on the retained facts, and general capability (utility and exact-answer accuracy
on the untouched entities), beside the original's.

    python benchmarks/lifelong_mini.py [--methods ga,gd,ga_klr,llm_npo,lumoe] [--keep results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 15 * 60.0
METHODS = ["ga", "llm_npo", "lumoe"]
COLUMNS = (("forget_quality", "forget FQ"), ("paraphrase_forget_quality", "para FQ"), ("forget_accuracy", "forget acc"),
           ("retain_utility", "retain util"), ("retain_accuracy", "retain acc"), ("general_utility", "general util"),
           ("general_accuracy", "general acc"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--keep", default=None, help="copy the run's results.json here")
    args = ap.parse_args()
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MU_CACHE_DIR": str(Path(tmp) / "cache"), "MU_PROGRESS": "0"}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mu_registry", "run", "--tasks", "mlubench-mini", "--methods",
                        ",".join(methods), "--output", str(Path(tmp) / "out")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        (run_dir,) = (Path(tmp) / "out").iterdir()
        if args.keep:
            shutil.copy(run_dir / "results.json", args.keep)
        results = json.loads((run_dir / "results.json").read_text())
    report(results, methods, wall)


def report(results: dict, methods: list[str], wall: float | None = None) -> None:
    task = results["tasks"]["mlubench-mini"]
    seed = task["seeds"]["0"]
    unlearn = sum(r["time_s"] for m in seed["methods"].values() for r in m["requests"])
    evaluate = seed["original"]["eval_time_s"] + sum(r["eval_time_s"] for m in seed["methods"].values()
                                                     for r in m["requests"])
    print(f"mlubench-mini, {len(task['requests'])} requests, methods {', '.join(methods)}, {os.cpu_count()} cores")
    if wall is not None:
        print(f"  cold run: {wall:7.1f} s = {wall / TARGET_S:.2f} of the 15 min target")
    print(f"  original training {seed['original']['train_time_s']:.1f} s, unlearning {unlearn:.1f} s, "
          f"evaluation {evaluate:.1f} s")
    judge = task.get("judge") or task["config"]["generation"].get("judge")
    print(f"  judge: {json.dumps(judge, sort_keys=True)}")
    print(f"\n  {'after request':16} " + " ".join(f"{label:>12}" for _, label in COLUMNS))
    o = seed["original"]["summary"]
    print(f"  {'[original]':16} " + " ".join(f"{o.get(k, float('nan')):12.3f}" for k, _ in COLUMNS))
    for method in methods:
        for r in seed["methods"][method]["requests"]:
            s = r["summary"]
            print(f"  {method + ' ' + r['name']:16} " + " ".join(f"{s.get(k, float('nan')):12.3f}" for k, _ in COLUMNS))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--report":  # print the tables of a kept results.json
        kept = json.loads(Path(sys.argv[2]).read_text())
        report(kept, list(kept["tasks"]["mlubench-mini"]["seeds"]["0"]["methods"]))
    else:
        main()
