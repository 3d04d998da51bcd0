"""How long each offline task takes from a cold cache, as `mu-eval list tasks --long` and the README report it.

    python3 benchmarks/task_times.py [TASK ...] [--write]

Runs `mu-eval run --tasks TASK` (its default methods, seed 0) once per task with an empty model and answer cache,
in a subprocess, and records the wall time with what it was measured on: cores, torch threads, the load average
before and after (other jobs on the machine make every figure slower: say so beside it). ``--write`` merges the
figures into ``tasks/expected_times.json``, which the package ships and `list tasks --long` reads. Tasks not
given keep their earlier figures; a task never measured shows "-".
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

REPO = Path(__file__).resolve().parent.parent
TIMES = REPO / "tasks" / "expected_times.json"
#: the offline tasks, cheapest first (pulse-smol-pretrained is opt-in and takes about half an hour of training)
OFFLINE = ["digits-random", "digits-class", "fashion-mnist-random", "fashion-mnist-class", "mubench-mini-text",
           "mubench-mini-image", "mubench-mini-speech", "mubench-mini-video", "mubench-mini-nlvr", "mlubench-mini",
           "pulse-mini-pretrained", "pulse-mini-finetuned"]


def measure(task: str) -> dict:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MU_CACHE_DIR": str(Path(tmp) / "cache"), "MU_PROGRESS": "0"}
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mu_registry", "run", "--tasks", task, "--output",
                               str(Path(tmp) / "runs")], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        raise SystemExit(f"task_times: {task} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return {"wall_s": round(wall, 1), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_before": round(load_before, 2), "load_after": round(load_after, 2),
            "measured": time.strftime("%Y-%m-%d"), "command": f"mu-eval run --tasks {task}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tasks", nargs="*", help=f"default: {' '.join(OFFLINE)}")
    ap.add_argument("--write", action="store_true", help=f"merge the figures into {TIMES.relative_to(REPO)}")
    args = ap.parse_args(argv)
    known = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    for task in args.tasks or OFFLINE:
        figure = measure(task)
        known[task] = figure
        print(f"{task:24s} {figure['wall_s']:8.1f} s  on {figure['cores']} cores, load {figure['load_before']} -> "
              f"{figure['load_after']}", flush=True)
        if args.write:
            TIMES.write_text(json.dumps(dict(sorted(known.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
