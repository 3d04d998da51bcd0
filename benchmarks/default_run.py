"""Time the embedded default run and show that its methods move forget accuracy beyond seed noise.

Runs ``mu-eval run`` (the README's main job) with an empty model cache, so the
original and retrain models are trained, and reports its wall time against the
60 s target. Then repeats the run for more seeds to measure run-to-run noise
and prints, per task and method, forget accuracy as mean ± std over seeds next
to the original's and the retrain model's.

    python benchmarks/default_run.py [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MU_CACHE_DIR": str(Path(tmp) / "cache"), "MU_PROGRESS": "0"}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mu_registry", "run", "--output", f"{tmp}/default"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        print(f"default run (cold cache, trains original + retrain): {wall:.1f} s; "
              f"target {TARGET_S:.0f} s; ratio {wall / TARGET_S:.2f} of target on {os.cpu_count()} cores")

        subprocess.run([sys.executable, "-m", "mu_registry", "run", "--seed", args.seeds, "--output", f"{tmp}/seeds"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        (run_dir,) = Path(f"{tmp}/seeds").iterdir()
        results = json.loads((run_dir / "results.json").read_text())

    print(f"\nforget-set accuracy over seeds {args.seeds} (mean ± std); 'moved' = |original - method| in units of "
          "the largest seed std of the three")
    for task, rec in results["tasks"].items():
        rows: dict[str, list[float]] = {}
        for seed in rec["seeds"].values():
            for name, r in [("original", seed["original"]), ("retrain", seed["retrain"]), *seed["methods"].items()]:
                rows.setdefault(name, []).append(r["requests"][-1]["metrics"]["accuracy"]["forget"])
        print(f"\n{task}")
        orig = rows["original"]
        for name, vals in rows.items():
            mean, std = statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0
            line = f"  {name:<14} {mean:.3f} ± {std:.3f}"
            if name not in ("original",):
                noise = max(std, statistics.stdev(orig) if len(orig) > 1 else 0.0, 1e-3)
                line += f"   moved {abs(statistics.fmean(orig) - mean) / noise:6.1f} x noise"
            print(line)


if __name__ == "__main__":
    main()
