"""`mu-eval sweep`: tasks x methods x seeds as independent cells on Ray (or one after another), merged
into one results folder.

Ray is the scheduler (a laptop, ``ray start`` on a cluster, ``--ray-address``): each cell is one
``mu-eval run`` of one task, one method and one seed, given ``--gpus-per-cell`` GPUs and one CPU. The
first method of every (task, seed) runs first, so the original (and retrain) models it trains are in
the shared model cache (``MU_CACHE_DIR``, a shared folder on a cluster) before the other methods of
that task and seed start. Every cell writes its own run folder under ``OUTPUT/<sweep-id>/cells``; the
merged ``results.json``, tables and plots go to ``OUTPUT/<sweep-id>``. A sweep that stops can be run
again with ``--resume OUTPUT/<sweep-id>``: cells whose run finished are not run again.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mu_registry.util.atomic import atomic_write_json, atomic_write_text
from mu_registry.util.errors import MuError
from mu_registry.run.runner import RunConfig, Runner, new_run_id
from mu_registry.registry.manager import get_registry
from mu_registry.report.tables import render_tables
from mu_registry.report.plots import write_plots

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    task: str
    method: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.task}__{self.method.replace('/', '_')}__seed{self.seed}"


def plan_cells(config: RunConfig, registry: Any) -> list[Cell]:
    """Every (task, method, seed) of the configuration, validated as ``mu-eval run`` validates it."""
    plan = Runner(config, registry, run_dir=Path("/nonexistent/plan-only")).plan()
    return [Cell(loaded.name, method, seed) for loaded, methods in plan for seed in config.seeds for method in methods]


def run_cell(config: dict[str, Any], cell: Cell, cells_dir: str) -> str:
    """One cell in this process (a Ray worker, or the sweep's own process); returns its run folder."""
    run_config = RunConfig(**{**config, "tasks": [cell.task], "methods": [cell.method], "seeds": [cell.seed]})
    runner = Runner(run_config, get_registry(), run_dir=Path(cells_dir) / cell.name)
    runner.run()
    return str(runner.run_dir)


def _finished(run_dir: Path) -> bool:
    path = run_dir / "results.json"
    try:
        return json.loads(path.read_text()).get("status") == "done"
    except (OSError, json.JSONDecodeError):
        return False


def merge(results: list[dict[str, Any]], config: RunConfig, sweep_id: str) -> dict[str, Any]:
    """One results document from the cells': each task's record with every seed's original, retrain and
    methods."""
    if not results:
        raise MuError("sweep: no finished cells to merge")
    merged = copy.deepcopy(results[0])
    merged.update({"run_id": sweep_id, "config": asdict(config), "tasks": {}, "status": "done",
                   "sweep": {"cells": len(results)}})
    for res in results:
        for name, task in res.get("tasks", {}).items():
            into = merged["tasks"].setdefault(name, {k: copy.deepcopy(v) for k, v in task.items() if k != "seeds"}
                                              | {"seeds": {}})
            for seed, seed_rec in task.get("seeds", {}).items():
                target = into["seeds"].setdefault(seed, {k: copy.deepcopy(v) for k, v in seed_rec.items()
                                                         if k != "methods"} | {"methods": {}})
                target["methods"].update(copy.deepcopy(seed_rec.get("methods", {})))
    return merged


def sweep(config: RunConfig, registry: Any, *, backend: str = "ray", ray_address: str | None = None,
          gpus_per_cell: float = 0.0, ray_cpus: int | None = None, resume: Path | None = None) -> Path:
    """Run every cell and write the merged results; returns the sweep folder."""
    cells = plan_cells(config, registry)
    sweep_dir = resume or Path(config.output) / f"sweep-{new_run_id()}"
    cells_dir = sweep_dir / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    todo = [c for c in cells if not _finished(cells_dir / c.name)]
    log.info("sweep %s: %d cells, %d to run (%s)", sweep_dir.name, len(cells), len(todo), backend)
    first = {(c.task, c.seed): c for c in reversed(todo)}  # the first method of each task and seed
    waves = [list(first.values()), [c for c in todo if c not in first.values()]]
    plain = asdict(replace(config, tasks=[], methods=None))
    if backend == "ray":
        _run_on_ray(waves, plain, cells_dir, ray_address, gpus_per_cell, ray_cpus)
    elif backend == "serial":
        for wave in waves:
            for cell in wave:
                run_cell(plain, cell, str(cells_dir))
    else:
        raise MuError(f"sweep --backend {backend!r}: choose ray or serial")
    results = [json.loads((cells_dir / c.name / "results.json").read_text()) for c in cells
               if _finished(cells_dir / c.name)]
    merged = merge(results, config, sweep_dir.name)
    atomic_write_json(sweep_dir / "results.json", merged)
    atomic_write_text(sweep_dir / "results.md", render_tables(merged))
    try:
        write_plots(merged, sweep_dir / "plots")
    except Exception as exc:  # noqa: BLE001 - plots never cost the results
        log.warning("plots were not written: %s: %s", type(exc).__name__, exc)
    return sweep_dir


def _run_on_ray(waves: list[list[Cell]], config: dict[str, Any], cells_dir: Path, address: str | None,
                gpus: float, cpus: int | None) -> None:
    try:
        import ray
    except ImportError:
        raise MuError("sweep --backend ray needs Ray: pip install 'mu-registry[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else cpus, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    try:
        remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(run_cell)
        for wave in waves:
            refs = {remote.remote(config, cell, str(cells_dir)): cell for cell in wave}
            failed = []
            for ref, cell in refs.items():
                try:
                    ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - reported per cell; finished cells are kept
                    failed.append(f"{cell.name}: {exc}".splitlines()[0])
            if failed:
                raise MuError(f"sweep: {len(failed)} cell(s) failed (rerun with --resume): {'; '.join(failed)}")
    finally:
        if started:
            ray.shutdown()
