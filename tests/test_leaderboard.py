"""`mu-eval leaderboard`: shipped reference data, runs of stand-ins, a plugin's method, exports."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli, write

from mu_registry.leaderboard import find_run, metric_value
from mu_registry.reference import load_reference, shipped_suites
from mu_registry.registry import Registry
from mu_registry.task_index import TaskIndex

TOY = """
suite: toy
title: A toy suite for the test
sources:
  tab1: {cite: "A paper, Table 1"}
show: [metrics.accuracy.forget, metrics.accuracy.test]
configs:
  - name: digits (stand-in for CIFAR-100)
    task: mubench-cifar100
    set: {model.args.pretrained: microsoft/resnet-50}
    stand_in: {task: digits-random, set: {model.train.epochs: 8}}
    methods: [neggrad]
    reference:
      original:
        metrics.accuracy.test: {value: 0.5, source: tab1, where: "row 1"}
      neggrad:
        metrics.accuracy.forget: {value: 0.25, source: tab1, where: "row 2"}
"""


def test_shipped_suites_load_and_name_tasks_that_exist():
    assert shipped_suites() == ["mlubench", "mubench", "pulse"]
    index = TaskIndex(Registry())
    for name in shipped_suites():
        suite = load_reference(name)
        assert suite.configs and suite.show
        for config in suite.configs:
            assert config.task in index.tasks, (name, config.task)
            assert config.stand_in and config.stand_in.task in index.tasks, (name, config.name)
    mubench = load_reference("mubench")
    values = [(c.name, p, v) for c in mubench.configs for m in c.reference.values() for p, v in m.items()]
    assert len(values) >= 20 and all(v.where and v.source == "orig_acc" for _, _, v in values)
    vit = next(c for c in mubench.configs if c.name == "cifar100 / vit-base")
    assert vit.reference["original"]["metrics.accuracy.test"].value == 0.922


def test_leaderboard_runs_the_stand_in_with_a_plugin_method_and_reads_results_back(tmp_path, example_site):
    ref = write(tmp_path / "toy.yaml", TOY)
    out = tmp_path / "lb"
    proc = run_cli("leaderboard", "--reference", str(ref), "--stand-in", "--methods", "example/ascent_descent",
                   "--limit", "300", "--output", str(out), sites=(example_site,))
    assert proc.returncode == 0, proc.stderr
    assert "STAND-IN: run on the offline task digits-random instead of mubench-cifar100" in proc.stdout
    for method in ("original", "retrain", "neggrad", "example/ascent_descent"):
        assert f"\n{method} " in proc.stdout, method

    board = json.loads((out / "toy.json").read_text())
    table = board["configs"][0]
    assert table["stand_in_task"] == "digits-random"
    run = json.loads((Path(table["run_dir"]) / "results.json").read_text())
    seed = run["tasks"]["digits-random"]["seeds"]["0"]
    cells = {(r["method"], r["metric"]): r for r in table["rows"]}
    test_acc = seed["original"]["requests"][-1]["metrics"]["accuracy"]["test"]
    orig = cells[("original", "metrics.accuracy.test")]
    assert orig["ours"] == test_acc and orig["reference"] == 0.5
    assert abs(orig["diff"] - (test_acc - 0.5)) < 1e-12 and orig["where"] == "row 1"
    plugin = cells[("example/ascent_descent", "metrics.accuracy.forget")]
    assert plugin["ours"] == seed["methods"]["example/ascent_descent"]["requests"][-1]["metrics"]["accuracy"]["forget"]
    assert plugin["reference"] is None
    assert f"(ref 0.500, Δ {test_acc - 0.5:+.3f})" in proc.stdout

    md = (out / "toy.md").read_text()
    assert "| example/ascent_descent |" in md and "STAND-IN" in md and "A paper, Table 1" in md
    page = (out / "toy.html").read_text()
    assert page.startswith("<!doctype html>") and "class='standin'" in page and "example/ascent_descent" in page

    again = run_cli("leaderboard", "--reference", str(ref), "--results", str(out / "runs"),
                    "--output", str(tmp_path / "again"), sites=(example_site,))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "toy.json").read_text())["configs"][0]["rows"] == table["rows"]


def test_a_bad_reference_file_is_one_line_naming_file_and_field(tmp_path):
    bad = write(tmp_path / "bad.yaml", TOY.replace("source: tab1, where: \"row 2\"", "source: nope"))
    proc = run_cli("leaderboard", "--reference", str(bad), "--results", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "bad.yaml" in proc.stderr and "source 'nope' is not in sources" in proc.stderr
    proc = run_cli("leaderboard", "--suite", "nosuch", "--results", str(tmp_path))
    assert proc.returncode == 2 and "no reference suite 'nosuch' (shipped: mlubench, mubench, pulse)" in proc.stderr


def test_metric_paths_pick_requests_and_runs_match_the_keys_a_config_sets(tmp_path):
    record = {"requests": [{"index": 0, "summary": {"forget_accuracy": 0.4}},
                           {"index": 1, "summary": {"forget_accuracy": 0.1}}]}
    assert metric_value(record, "summary.forget_accuracy") == 0.1
    assert metric_value(record, "summary.forget_accuracy@0") == 0.4
    assert metric_value({"summary": {"retain_accuracy": 0.9}}, "summary.retain_accuracy@3") == 0.9
    assert metric_value(record, "summary.missing") is None

    suite = load_reference(write(tmp_path / "toy.yaml", TOY))
    config = suite.configs[0]

    def run(task, pretrained, created):
        cfg = {"model": {"args": {"pretrained": pretrained}, "train": {"epochs": 8}}}
        return (tmp_path / created, {"created": created, "tasks": {task: {"config": cfg, "seeds": {"0": {}}}}})

    stand_in = run("digits-random", None, "2026-01-03")
    other_model = run("mubench-cifar100", "google/vit-base-patch16-224-in21k", "2026-01-02")
    real = run("mubench-cifar100", "microsoft/resnet-50", "2026-01-01")
    assert find_run(config, [stand_in, other_model]).stand_in
    found = find_run(config, [stand_in, other_model, real])
    assert not found.stand_in and found.run_dir == tmp_path / "2026-01-01"
    assert find_run(config, [stand_in, real], allow_real=False).stand_in
