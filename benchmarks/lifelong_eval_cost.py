"""Evaluation cost per request of a lifelong run against the number of requests already made.

Runs ``mu-eval run --tasks mlubench-mini --methods ga,lumoe`` (4 requests) and prints, for every request,
how many rows were evaluated (every request's forget, paraphrase and retain set, and the general set:
the "task X after unlearning Y" matrix needs them all after every request), the evaluation time, the
time per row, and its ratio to the first request's. Goal: flat - the time per request does not grow with
the number of past requests beyond the sets that genuinely need evaluating.

The first run trains the original (cached in ``--cache-dir``); the command is run twice, and the second
run's evaluation of the original comes back from the answer cache (same weights, same rows).

    python benchmarks/lifelong_eval_cost.py [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ["ga", "lumoe"]


def run(out: Path, env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mu_registry", "run", "--tasks", "mlubench-mini", "--methods",
                    ",".join(METHODS), "--output", str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    (run_dir,) = out.iterdir()
    return wall, json.loads((run_dir / "results.json").read_text())


def rows(metrics: dict) -> int:
    return sum(int(m.get("n", 0)) for m in metrics.values() if isinstance(m, dict))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", default=None, help="model and answer cache (default: a fresh temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MU_CACHE_DIR": args.cache_dir or str(Path(tmp) / "cache"), "MU_PROGRESS": "0"}
        wall1, first = run(Path(tmp) / "a", env)
        wall2, second = run(Path(tmp) / "b", env)
    seed = first["tasks"]["mlubench-mini"]["seeds"]["0"]
    print(f"mlubench-mini, methods {', '.join(METHODS)}, {os.cpu_count()} cores; wall {wall1:.0f} s, then {wall2:.0f} s")
    orig = seed["original"]
    orig2 = second["tasks"]["mlubench-mini"]["seeds"]["0"]["original"]
    print(f"original: {rows(orig['metrics'])} rows evaluated in {orig['eval_time_s']:.1f} s; second run (answer "
          f"cache) {orig2['eval_time_s']:.2f} s = {orig2['eval_time_s'] / orig['eval_time_s']:.3f} of it")
    print(f"\n{'method':8}{'request':>8}{'past':>6}{'rows':>7}{'eval s':>9}{'ms/row':>9}{'vs 1st':>8}")
    for method in METHODS:
        reqs = seed["methods"][method]["requests"]
        base = None
        for past, r in enumerate(reqs):
            n = rows(r["metrics"])
            per_row = 1000 * r["eval_time_s"] / max(n, 1)
            base = base or per_row
            print(f"{method:8}{r['name']:>8}{past:6d}{n:7d}{r['eval_time_s']:9.1f}{per_row:9.1f}{per_row / base:7.2f}x")


if __name__ == "__main__":
    main()
