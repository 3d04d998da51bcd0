"""How fast the CLI answers, as ratios to ``python -c "import torch"`` measured in the same run.

Each command is started as a fresh process (``python -m mu_registry ...``, what the ``mu-eval`` script
runs), ``--repeat`` times, interleaved with the torch import so that load on the machine hits both
alike; the median wall time of each is compared with the median of the torch import. Targets (issue 16):
``--help`` under 0.5x, ``list`` and ``validate`` (without ``--load``) under 1x.

    python benchmarks/cli_startup.py [--repeat 7]

Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS: list[tuple[str, list[str], float]] = [
    ("mu-eval --help", ["--help"], 0.5),
    ("mu-eval list methods", ["list", "methods"], 1.0),
    ("mu-eval list models", ["list", "models"], 1.0),
    ("mu-eval list tasks", ["list", "tasks"], 1.0),
    ("mu-eval validate", ["validate"], 1.0),
]


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    torch_argv = [sys.executable, "-c", "import torch"]
    wall(torch_argv)  # warm the file cache for both sides
    times: dict[str, list[float]] = {"import torch": []}
    for label, cli, _ in COMMANDS:
        wall([sys.executable, "-m", "mu_registry", *cli])
        times[label] = []
    for _ in range(args.repeat):
        times["import torch"].append(wall(torch_argv))
        for label, cli, _ in COMMANDS:
            times[label].append(wall([sys.executable, "-m", "mu_registry", *cli]))
    base = statistics.median(times["import torch"])
    print(f"python -c 'import torch': median {base:.3f} s over {args.repeat} runs")
    print(f"{'command':<24} {'median_s':>8} {'ratio':>6} {'target':>7}")
    missed = 0
    for label, _, target in COMMANDS:
        med = statistics.median(times[label])
        ratio = med / base
        ok = ratio < target
        missed += not ok
        print(f"{label:<24} {med:8.3f} {ratio:6.2f} {'<' + str(target) + 'x':>7} {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
