"""`mu-eval sweep`: tasks x methods x seeds as cells on a local Ray instance, merged into one results file
that equals a plain `mu-eval run` of the same configuration; an unfinished sweep resumes."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from conftest import run_cli

from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner

ARGS = ["--tasks", "digits-random", "--methods", "ga,finetune", "--seed", "0,1", "--limit", "300",
        "--set", "model.train.epochs=3"]


def _metrics(results):
    task = results["tasks"]["digits-random"]
    return {(seed, name): rec["requests"][-1]["metrics"]
            for seed, s in task["seeds"].items()
            for name, rec in [("original", s["original"]), ("retrain", s["retrain"]), *s["methods"].items()]}


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray")
def test_a_ray_sweep_equals_one_run_and_resumes(tmp_path):
    proc = run_cli("sweep", *ARGS, "--backend", "ray", "--ray-cpus", "2", "--output", str(tmp_path / "sw"))
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = (tmp_path / "sw").iterdir()
    merged = json.loads((sweep_dir / "results.json").read_text())
    assert sorted(p.name for p in (sweep_dir / "cells").iterdir()) == [
        f"digits-random__{m}__seed{s}" for m in ("finetune", "ga") for s in (0, 1)]
    assert (sweep_dir / "plots" / "digits-random-accuracy.png").exists()

    config = RunConfig(tasks=["digits-random"], methods=["ga", "finetune"], seeds=[0, 1], limit=300,
                       task_overrides={"model.train.epochs": 3})
    single = Runner(config, Registry(), run_dir=tmp_path / "one").run()
    assert _metrics(merged) == _metrics(single)

    # a lost cell is run again on --resume; the finished ones are not
    shutil.rmtree(sweep_dir / "cells" / "digits-random__finetune__seed1")
    kept = (sweep_dir / "cells" / "digits-random__ga__seed0" / "results.json").stat().st_mtime_ns
    proc = run_cli("sweep", *ARGS, "--backend", "serial", "--resume", str(sweep_dir))
    assert proc.returncode == 0, proc.stderr
    assert (sweep_dir / "cells" / "digits-random__ga__seed0" / "results.json").stat().st_mtime_ns == kept
    assert _metrics(json.loads((sweep_dir / "results.json").read_text())) == _metrics(single)
