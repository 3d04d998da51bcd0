"""Time `mu-eval run --tasks mubench-mini --methods all` against its 15-minute target, then show the cache at work.

1. A cold run (empty model cache): trains every mini task's original and retrain model and runs
   every registered method. Its wall time is compared with the 15-minute target.
2. The same command again: the originals and retrain models come from the cache.
3. A deletion-ratio sweep step (``--set forget.ratio=0.05``): originals from the cache, only the
   retrain models (which depend on the forget set) are trained.

Prints the three wall times side by side, their ratios, and per task the time spent training
references against running methods.

    python benchmarks/mubench_mini.py [--keep DIR]     # --keep: the cold run's results (tables in the README)
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


def run(args: list[str], env: dict[str, str], out: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mu_registry", "run", "--tasks", "mubench-mini", "--methods", "all",
                    "--output", str(out), *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    (run_dir,) = out.iterdir()
    return wall, json.loads((run_dir / "results.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description="time mubench-mini --methods all: cold, warm, a ratio sweep step")
    ap.add_argument("--keep", type=Path, default=None, help="copy the cold run's results folder here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MU_CACHE_DIR": str(Path(tmp) / "cache"), "MU_PROGRESS": "0"}
        cold, results = run([], env, Path(tmp) / "cold")
        if args.keep is not None:
            shutil.copytree(Path(tmp) / "cold", args.keep, dirs_exist_ok=True)
        warm, warm_results = run([], env, Path(tmp) / "warm")
        sweep, sweep_results = run(["--set", "forget.ratio=0.05"], env, Path(tmp) / "sweep")

    print(f"mubench-mini, every method, {os.cpu_count()} cores")
    print(f"  cold cache (trains originals + retrain): {cold:7.1f} s  = {cold / TARGET_S:.2f} of the 15 min target")
    print(f"  second run (all references cached):      {warm:7.1f} s  = {warm / cold:.2f} of the cold run")
    print(f"  ratio sweep step 5% (originals cached):  {sweep:7.1f} s  = {sweep / cold:.2f} of the cold run")
    print("\nper task (cold run): reference training vs methods, in seconds")
    print(f"  {'task':24} {'original':>9} {'retrain':>8} {'methods':>8}  cached on 2nd run / on sweep")
    for task, rec in results["tasks"].items():
        seed = rec["seeds"]["0"]
        methods = sum(r["time_s"] for m in seed["methods"].values() for r in m["requests"])
        retrain = sum(r["train_time_s"] for r in seed["retrain"]["requests"])
        w = warm_results["tasks"][task]["seeds"]["0"]
        s = sweep_results["tasks"][task]["seeds"]["0"]
        cached = (f"original {w['original']['cached']}, retrain {w['retrain']['requests'][0]['cached']} / "
                  f"original {s['original']['cached']}, retrain {s['retrain']['requests'][0]['cached']}")
        print(f"  {task:24} {seed['original']['train_time_s']:9.1f} {retrain:8.1f} {methods:8.1f}  {cached}")


if __name__ == "__main__":
    main()
