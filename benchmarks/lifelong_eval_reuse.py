"""Evaluation time per request of the mini lifelong task with the transformers engine's reuse on and off.

Runs ``mu-eval run --tasks mlubench-mini --methods ga,lumoe`` (a tiny LLaVA, 4 requests; after every
request every request's forget, paraphrase and retain set and the general set are answered) with
``MU_ENGINE_REUSE=0`` (the plain path: transformers' ``generate``, full forward passes) and ``=1`` (shared
prefixes and image features once per weights state, rows once per weights state of their route). Both runs
share the model cache (the original is trained once, by the first run) and start with an empty answer cache,
so every evaluation is computed. Runs alternate off/on ``--repeats`` times; per request the best time is
kept. The answers every run wrote are asserted identical before any ratio is printed.

Prints per request: rows evaluated, evaluation seconds off and on, their ratio (goal: at least 2x), and the
time per row with reuse on against the first request's (goal: flat); each run's wall time and peak resident
memory (of the whole run: training included).

    python benchmarks/lifelong_eval_reuse.py [--methods ga,lumoe] [--repeats 1] [--cache-dir DIR]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import load_note  # noqa: E402

TASK = "mlubench-mini"


def run(out: Path, env: dict[str, str], methods: list[str]) -> tuple[float, float, dict, dict[str, str]]:
    """Wall seconds, peak RSS (MiB) of the run, its results and the answer files it wrote."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mu_registry", "run", "--tasks", TASK, "--methods",
                             ",".join(methods), "--output", str(out)], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"mu-eval run failed with exit code {proc.returncode}")
    wall = time.perf_counter() - start
    (run_dir,) = out.iterdir()
    answers = {str(p.relative_to(run_dir)): p.read_text() for p in sorted((run_dir / "answers").rglob("*.jsonl"))}
    return wall, usage.ru_maxrss / 1024, json.loads((run_dir / "results.json").read_text()), answers


def rows(metrics: dict) -> int:
    return sum(int(m.get("n", 0)) for m in metrics.values() if isinstance(m, dict))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="ga,lumoe")
    ap.add_argument("--repeats", type=int, default=1, help="off/on pairs; the best time per request is kept")
    ap.add_argument("--cache-dir", default=None, help="model cache (default: a fresh temporary one)")
    args = ap.parse_args()
    methods = args.methods.split(",")
    load_start = load_note()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache_dir or Path(tmp) / "cache")
        best: dict[str, dict] = {}
        answers: dict[str, dict[str, str]] = {}
        walls: dict[str, list[float]] = {"off": [], "on": []}
        peaks: dict[str, float] = {}
        for r in range(args.repeats):
            for mode in ("off", "on"):
                shutil.rmtree(cache / "answers", ignore_errors=True)  # every evaluation is computed
                env = {**os.environ, "MU_CACHE_DIR": str(cache), "MU_PROGRESS": "0",
                       "MU_ENGINE_REUSE": "1" if mode == "on" else "0"}
                wall, peak, results, wrote = run(Path(tmp) / f"{mode}{r}", env, methods)
                walls[mode].append(wall)
                peaks[mode] = max(peaks.get(mode, 0.0), peak)
                seed = results["tasks"][TASK]["seeds"]["0"]
                times = {"original": seed["original"]["eval_time_s"]}
                sizes = {"original": rows(seed["original"]["metrics"])}
                for method in methods:
                    for k, req in enumerate(seed["methods"][method]["requests"]):
                        times[f"{method}/{k}"] = req["eval_time_s"]
                        sizes[f"{method}/{k}"] = rows(req["metrics"])
                old = best.get(mode)
                best[mode] = {"sizes": sizes, "times": times if old is None else
                              {k: min(v, old["times"][k]) for k, v in times.items()}}
                if mode in answers:
                    assert wrote == answers[mode], f"reuse {mode}: answers differ between repeats"
                answers[mode] = wrote
    assert answers["on"].keys() == answers["off"].keys() and answers["on"]
    differing = [k for k in answers["on"] if answers["on"][k] != answers["off"][k]]
    assert not differing, f"reuse on and off answered differently in {differing}"

    off, on = best["off"]["times"], best["on"]["times"]
    sizes = best["on"]["sizes"]
    print(f"{TASK}, methods {', '.join(methods)}, {os.cpu_count()} cores, best of {args.repeats} (off/on "
          f"alternating); {load_start} at the start, {load_note()} at the end")
    print(f"answers identical with reuse on and off (asserted): {len(answers['on'])} answer files")
    print(f"run wall time off {min(walls['off']):.0f} s, on {min(walls['on']):.0f} s; peak resident memory "
          f"(whole run) off {peaks['off']:.0f} MiB, on {peaks['on']:.0f} MiB")
    print(f"\n{'evaluation':14}{'rows':>6}{'off s':>8}{'on s':>8}{'ratio':>8}{'on ms/row':>11}{'vs 1st':>8}")
    total_off = total_on = 0.0
    first: dict[str, float] = {}
    for key in off:
        n = sizes[key]
        per_row = 1000 * on[key] / max(n, 1)
        method = key.split("/")[0]
        base = first.setdefault(method, per_row)
        total_off += off[key]
        total_on += on[key]
        print(f"{key:14}{n:6d}{off[key]:8.2f}{on[key]:8.2f}{off[key] / on[key]:7.2f}x{per_row:11.2f}"
              f"{per_row / base:7.2f}x")
    ratio = total_off / total_on
    print(f"{'all':14}{sum(sizes.values()):6d}{total_off:8.2f}{total_on:8.2f}{ratio:7.2f}x"
          + ("   goal 2x: met" if ratio >= 2 else "   goal 2x: NOT met"))
    print(json.dumps({"off_s": off, "on_s": on, "rows": sizes, "peak_mb": peaks, "wall_s": walls}))


if __name__ == "__main__":
    main()
