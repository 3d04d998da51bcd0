"""The mubench-mini group: every modality's tiny transformers model runs through the real runner
(cut down with --limit and --set), and the reference models are cached across a deletion-ratio sweep."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mu_registry.registry import Registry
from mu_registry.results import render_tables
from mu_registry.runner import RunConfig, Runner

MINI = ["mubench-mini-image", "mubench-mini-text", "mubench-mini-speech", "mubench-mini-video", "mubench-mini-nlvr"]
needs_debian = pytest.mark.skipif(
    not (Path("/usr/share/datasets/fashion-mnist").exists() and Path("/usr/share/games/fortunes").exists()
         and shutil.which("espeak-ng")),
    reason="needs Debian's dataset-fashion-mnist, fortunes and espeak-ng")


@needs_debian
def test_every_mini_modality_runs_its_model_and_methods(tmp_path):
    config = RunConfig(tasks=["mubench-mini"], methods=["neggrad", "random_label"], limit=40,
                       task_overrides={"model.train.epochs": 1})
    results = Runner(config, Registry(), run_dir=tmp_path / "run").run()
    assert list(results["tasks"]) == MINI
    for task in MINI:
        seed = results["tasks"][task]["seeds"]["0"]
        for who in ("original", "retrain"):
            metrics = seed[who]["requests"][0]["metrics"]
            assert {"forget", "retain", "test"} <= set(metrics["accuracy"])
            assert {"efficacy", "auc"} <= set(metrics["mia"])
        for method in ("neggrad", "random_label"):
            rec = seed["methods"][method]
            assert rec["status"] == "done", (task, method, rec)
            overall = rec["requests"][0]["metrics"]["mubench_overall"]
            assert 0.0 <= overall["score"] <= 1.0 and overall["published"] == 0.0  # minis: measured constants
    table = render_tables(results)
    for task in MINI:
        assert task in table
    assert "[retrain]" in table


def test_a_deletion_ratio_sweep_trains_the_original_once(tmp_path):
    def run(ratio: float, name: str):
        config = RunConfig(tasks=["mubench-mini-image"], methods=["finetune"], limit=120,
                           task_overrides={"forget.ratio": ratio, "model.train.epochs": 1})
        seed = Runner(config, Registry(), run_dir=tmp_path / name).run()["tasks"]["mubench-mini-image"]["seeds"]["0"]
        return seed["original"]["cached"], seed["retrain"]["requests"][0]["cached"]

    assert run(0.05, "a") == (False, False)
    assert run(0.10, "b") == (True, False)  # same training data: the original is reused; the retain set differs
    assert run(0.05, "c") == (True, True)  # a repeated ratio reuses both
