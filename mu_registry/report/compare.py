"""``mu-eval compare RUN_A RUN_B``: is a run's every number where a reference run says it should be?

CPU floating point differs across machines, thread counts and library builds, and a lifelong stream of
requests amplifies the difference; a broken install moves numbers too. This comparison tells them apart:
every metric of every model (original, retrain, each method; every request; classification metrics and the
generative summaries and per-set scores) is compared, as the mean over the run's seeds, against the reference
run (A). A value passes when ``|B - A| <= max(tolerance, spread × sd)``, where sd is the standard deviation
of A's value over A's seeds (0 with one seed: run the reference with ``--seed 0,1,2`` to let seed-to-seed
variation set the tolerance). Where the two runs' machines, thread counts or library versions differ, the
report says so first: identical numbers are expected only where they are the same.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mu_registry.util.errors import MuError

#: keys whose values are times, cache bookkeeping or sizes, not measurements
SKIP = {"time_s", "eval_time_s", "train_time_s", "speedup_vs_retrain", "selection_time_s", "cached", "cache_key",
        "train_threads", "benchmark_time_s", "lmms_benchmark_time_s", "index", "epoch", "n", "count", "sizes"}
#: what must match for identical numbers to be expected
ENVIRONMENT = ("platform", "torch_threads", "cuda", "python")
PACKAGES = ("torch", "numpy", "transformers", "peft", "scikit-learn")


@dataclass
class Difference:
    where: str  # task/model/request/metric
    a: float
    b: float
    allowed: float

    @property
    def delta(self) -> float:
        return abs(self.b - self.a)


@dataclass
class Comparison:
    compared: int = 0
    identical: int = 0
    beyond: list[Difference] = field(default_factory=list)
    largest: Difference | None = None
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)  # what differs between the runs' machines
    seeds_a: int = 1

    @property
    def ok(self) -> bool:
        return not self.beyond and not self.only_a


def load_results(path: Path) -> dict[str, Any]:
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        raise MuError(f"{path}: no results.json (give a run folder or its results.json)") from None
    except ValueError as exc:
        raise MuError(f"{file}: not a results file ({exc})") from None


def _leaves(value: Any, prefix: str, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in SKIP:
                _leaves(item, f"{prefix}/{key}" if prefix else key, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        out[prefix] = float(value)


def values(results: dict[str, Any], renames: dict[str, str] | None = None) -> tuple[dict[str, list[float]], int]:
    """Every measured number by its place (task/model/request/metric), one entry per seed; and the seed count.
    ``renames``: old method names -> the names results carry now (a run recorded before a rename)."""
    renames = renames or {}
    by_place: dict[str, list[float]] = {}
    seeds = 1
    for task_name, task in results.get("tasks", {}).items():
        seeds = max(seeds, len(task.get("seeds", {})))
        for seed_rec in task.get("seeds", {}).values():
            models = {"[original]": seed_rec.get("original"), "[retrain]": seed_rec.get("retrain"),
                      **{renames.get(m, m): rec for m, rec in seed_rec.get("methods", {}).items()}}
            for model, rec in models.items():
                if not isinstance(rec, dict) or rec.get("status") in ("failed", "not_applicable"):
                    continue
                leaves: dict[str, float] = {}
                for row in rec.get("requests", []) or []:
                    if row:
                        _leaves({k: row[k] for k in ("metrics", "summary", "benchmarks") if k in row},
                                f"request {row.get('index', '?')}", leaves)
                _leaves({k: rec[k] for k in ("metrics", "summary") if k in rec}, "", leaves)
                for place, value in leaves.items():
                    by_place.setdefault(f"{task_name}/{model}/{place}", []).append(value)
    return by_place, seeds


def environment_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    ea, eb = a.get("environment", {}), b.get("environment", {})
    out = [f"{key}: {ea.get(key)} vs {eb.get(key)}" for key in ENVIRONMENT if ea.get(key) != eb.get(key)]
    pa, pb = ea.get("packages", {}), eb.get("packages", {})
    out += [f"{name} {pa.get(name)} vs {pb.get(name)}" for name in PACKAGES if pa.get(name) != pb.get(name)]
    return out


def compare(a: dict[str, Any], b: dict[str, Any], *, tolerance: float = 0.05, spread: float = 3.0,
            renames: dict[str, str] | None = None) -> Comparison:
    va, seeds_a = values(a, renames)
    vb, _ = values(b, renames)
    result = Comparison(environment=environment_differences(a, b), seeds_a=seeds_a)
    result.only_a = sorted(set(va) - set(vb))
    result.only_b = sorted(set(vb) - set(va))
    for place in sorted(set(va) & set(vb)):
        ma, mb = statistics.fmean(va[place]), statistics.fmean(vb[place])
        sd = statistics.stdev(va[place]) if len(va[place]) > 1 else 0.0
        diff = Difference(place, ma, mb, max(tolerance, spread * sd))
        result.compared += 1
        result.identical += va[place] == vb[place]
        if result.largest is None or diff.delta > result.largest.delta:
            result.largest = diff
        if diff.delta > diff.allowed + 1e-12:
            result.beyond.append(diff)
    return result


def render(result: Comparison, name_a: str, name_b: str, *, show: int = 20) -> str:
    lines = []
    if result.environment:
        lines.append("environments differ (identical numbers are not expected): " + "; ".join(result.environment))
    else:
        lines.append("same machine type, threads and library versions: identical numbers are expected")
    lines.append(f"{result.compared} values compared ({result.identical} identical); reference {name_a} has "
                 f"{result.seeds_a} seed(s)")
    if result.largest is not None:
        d = result.largest
        lines.append(f"largest difference: {d.delta:.4g} at {d.where} ({d.a:.4g} vs {d.b:.4g})")
    if result.only_a:
        lines.append(f"{len(result.only_a)} value(s) only in {name_a}, e.g. {result.only_a[0]}")
    if result.only_b:
        lines.append(f"{len(result.only_b)} value(s) only in {name_b}, e.g. {result.only_b[0]}")
    if result.beyond:
        lines.append(f"{len(result.beyond)} value(s) beyond the tolerance:")
        for d in sorted(result.beyond, key=lambda d: -d.delta)[:show]:
            lines.append(f"  {d.where}: {d.a:.4g} vs {d.b:.4g} (|Δ| {d.delta:.4g} > {d.allowed:.4g})")
    lines.append("within tolerance" if result.ok else "NOT within tolerance")
    return "\n".join(lines)
