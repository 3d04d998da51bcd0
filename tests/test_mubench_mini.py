"""The mubench-mini group: every modality's tiny transformers model runs through the real runner
(cut down with --limit and --set), and the reference models are cached across a deletion-ratio sweep."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mu_registry.registry.manager import Registry
from mu_registry.report.tables import render_tables
from mu_registry.run.runner import RunConfig, Runner

MINI = ["mubench-mini-image", "mubench-mini-text", "mubench-mini-speech", "mubench-mini-video", "mubench-mini-nlvr"]
needs_debian = pytest.mark.skipif(
    not (Path("/usr/share/datasets/fashion-mnist").exists() and Path("/usr/share/games/fortunes").exists()
         and shutil.which("espeak-ng")),
    reason="needs Debian's dataset-fashion-mnist, fortunes and espeak-ng")


@needs_debian
def test_every_mini_modality_runs_its_model_and_methods(tmp_path):
    config = RunConfig(tasks=["mubench-mini"], methods=["ga", "random_label"], limit=40,
                       task_overrides={"model.train.epochs": 1})
    results = Runner(config, Registry(), run_dir=tmp_path / "run").run()
    assert list(results["tasks"]) == MINI
    for task in MINI:
        seed = results["tasks"][task]["seeds"]["0"]
        for who in ("original", "retrain"):
            metrics = seed[who]["requests"][0]["metrics"]
            assert {"forget", "retain", "test"} <= set(metrics["accuracy"])
            assert {"efficacy", "auc"} <= set(metrics["mia"])
        for method in ("ga", "random_label"):
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


def test_mini_presets_are_what_the_generator_writes_from_its_recorded_choice():
    """tasks/mubench_mini/_presets_*.yaml come from scripts/mini_presets.py (MU-Bench's template and
    multipliers at the base rate chosen on the evaluation split); a hand edit, or a choice that is not the
    best recorded evaluation-split mean, fails here."""
    import importlib.util
    import json

    from mu_registry.registry.task_index import TaskIndex

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("mini_presets", root / "scripts" / "mini_presets.py")
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # dataclasses look their module up there
    spec.loader.exec_module(gen)
    record = json.loads(gen.RECORD.read_text())
    index = TaskIndex(Registry())
    for t in gen.MINIS:
        rec = record[t.short]
        means = {float(f): gen.mean_score(s) for f, s in rec["sweep"].items()}
        assert set(means) == set(gen.FACTORS), t.task
        assert rec["factor"] == max(gen.FACTORS, key=means.get), t.task  # the best evaluation-split mean
        cfg = index.load(t.task).config
        assert cfg.methods == gen.methods_block(t, t.train_lr * rec["factor"]), t.task
        assert cfg.select_best is not None and cfg.select_best.split == "eval" and "eval" in cfg.dataset.holdout
    # MU-Bench's multipliers reach the methods: CIFAR-100's GA x5 and RL x10 on the image mini
    image = gen.methods_block(gen.MINIS[0], 1e-4)
    assert image["ga"]["lr"] == 5e-4 and image["random_label"]["lr"] == 1e-3 and image["finetune"]["lr"] == 1e-4
    text = gen.methods_block(gen.MINIS[1], 1e-3)  # IMDB: GA 12 of 6 epochs at lr/10, BadT 10 of 6 at x2
    assert (text["ga"]["epochs"], text["ga"]["lr"]) == (10, 1e-4)
    assert (text["bad_teacher"]["epochs"], text["bad_teacher"]["lr"]) == (8, 2e-3)
