"""Time a 4-request lifelong run of GA, NPO and LUMoE on `mlubench-mini` against its 15-minute target,
and print what the run measured request by request.

One cold run (empty model cache: the tiny LLaVA learns the entity world first) of

    mu-eval run --tasks mlubench-mini --methods ga,llm_npo,lumoe

Prints its wall time and the ratio to the target, the time split between training the original,
unlearning and evaluating, and for each method the accuracy on the forgotten facts, the retained
facts and the untouched (general) facts after each request, beside the original's.

    python benchmarks/lifelong_mini.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 15 * 60.0
METHODS = ["ga", "llm_npo", "lumoe"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MU_CACHE_DIR": str(Path(tmp) / "cache"), "MU_PROGRESS": "0"}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mu_registry", "run", "--tasks", "mlubench-mini", "--methods",
                        ",".join(METHODS), "--output", str(Path(tmp) / "out")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        (run_dir,) = (Path(tmp) / "out").iterdir()
        results = json.loads((run_dir / "results.json").read_text())

    task = results["tasks"]["mlubench-mini"]
    seed = task["seeds"]["0"]
    unlearn = sum(r["time_s"] for m in seed["methods"].values() for r in m["requests"])
    evaluate = seed["original"]["eval_time_s"] + sum(r["eval_time_s"] for m in seed["methods"].values()
                                                     for r in m["requests"])
    print(f"mlubench-mini, {len(task['requests'])} requests, methods {', '.join(METHODS)}, {os.cpu_count()} cores")
    print(f"  cold run: {wall:7.1f} s = {wall / TARGET_S:.2f} of the 15 min target")
    print(f"  original training {seed['original']['train_time_s']:.1f} s, unlearning {unlearn:.1f} s, "
          f"evaluation {evaluate:.1f} s")
    keys = ("forget_accuracy", "paraphrase_accuracy", "retain_accuracy", "general_accuracy")
    print(f"\n  {'after request':14} " + " ".join(f"{k:>20}" for k in keys))
    o = seed["original"]["summary"]
    print(f"  {'[original]':14} " + " ".join(f"{o.get(k, float('nan')):20.3f}" for k in keys))
    for method in METHODS:
        for r in seed["methods"][method]["requests"]:
            s = r["summary"]
            print(f"  {method + ' ' + r['name']:14} " + " ".join(f"{s.get(k, float('nan')):20.3f}" for k in keys))


if __name__ == "__main__":
    main()
