"""One name per algorithm: an implementation per task type under one name, old names as deprecated aliases
(one line; results under the new name, or under the old one where it presets parameters), task presets, and
planning that refuses a method no planned task can run, before anything trains."""

from __future__ import annotations

import logging

import pytest

from conftest import run_cli, write
from mu_registry.config.run import RunConfig
from mu_registry.papers.leaderboard import _record
from mu_registry.protocols.base import method_label, method_spec
from mu_registry.registry.manager import Registry
from mu_registry.run.runner import Runner
from mu_registry.util.errors import MuError


@pytest.fixture(scope="module")
def reg():
    return Registry()


def test_list_methods_shows_each_algorithm_once_with_its_task_types():
    proc = run_cli("list", "methods")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[2] for line in proc.stdout.splitlines() if line.strip()}
    assert rows["ga"] == rows["graddiff"] == rows["npo"] == "classification,generation"
    assert rows["lumoe"] == "generation" and rows["scrub"] == "classification"
    assert not {"neggrad", "gd", "llm_npo", "ga_klr", "lumoe_npo"} & set(rows)


def test_one_name_resolves_to_the_implementation_of_the_task_type(reg):
    classification = reg.method("ga", task_type="classification")
    generation = reg.method("ga", task_type="generation")
    assert (classification.__name__, generation.__name__) == ("GA", "GenerativeGA")
    assert "classification" in classification.supports and "generation" in generation.supports
    assert reg.method("npo", task_type="generation").__name__ == "GenerativeNPO"
    assert reg.method("graddiff", task_type="generation").__name__ == "GenerativeGradDiff"


def test_an_old_name_is_one_notice_and_records_under_the_new_name(reg, caplog):
    fresh = Registry()
    with caplog.at_level(logging.WARNING, logger="mu_registry"):
        assert method_label(fresh, "neggrad", "--methods", warn=True) == "ga"
        assert method_label(fresh, "neggrad", "--methods", warn=True) == "ga"
    notices = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert notices == ["--methods: method 'neggrad' is deprecated: use 'ga' (results recorded under 'neggrad' "
                       "still load)"]
    assert method_label(reg, "llm_npo") == "npo" and method_label(reg, "gd") == "graddiff"
    # an old name that presets parameters keeps its name: it is a configuration of its own
    assert method_label(reg, "ga_klr") == "ga_klr" and method_label(reg, "lumoe_npo") == "lumoe_npo"
    assert reg.method_renames() == {"neggrad": "ga", "gd": "graddiff", "llm_npo": "npo",
                                    "ga_klr": "graddiff[retain_loss=kl]",
                                    "lumoe_npo": "lumoe[loss=npo,retain_weight=1.0,router=trained]"}


def test_planning_an_old_name_runs_the_new_one(tmp_path, reg):
    runner = Runner(RunConfig(tasks=["digits-class"], methods=["neggrad", "finetune"],
                              method_args={"neggrad": {"lr": 0.002}}), reg, run_dir=tmp_path / "run")
    plan = runner.plan()
    assert plan[0][1] == ["ga", "finetune"] and runner.results["plan"] == {"digits-class": ["ga", "finetune"]}
    canonical, _, overrides = method_spec(reg, plan[0][0], "ga", runner.config.method_args)
    assert canonical == "ga" and overrides["lr"] == 0.002  # --method-args under the old name still apply


def test_a_task_preset_and_an_old_preset_name_build_the_same_configuration(tmp_path, reg):
    runner = Runner(RunConfig(tasks=["mlubench-mini"], methods=["ga_klr", "graddiff"]), reg, run_dir=tmp_path / "r")
    (loaded, methods), = runner.plan()
    assert methods == ["ga_klr", "graddiff"]  # recorded side by side
    assert loaded.config.presets["ga_klr"] == {"method": "graddiff", "retain_loss": "kl"}
    canonical, _, overrides = method_spec(reg, loaded, "ga_klr", {})
    assert canonical == "graddiff" and overrides["retain_loss"] == "kl" and overrides["lr"] == 0.0002
    cls = reg.method(canonical, task_type="generation")
    assert cls(cls.make_params(overrides)).params.retain_loss == "kl"
    assert method_spec(reg, loaded, "graddiff", {})[2].get("retain_loss", "nll") == "nll"


def test_a_method_no_planned_task_can_run_is_refused_in_planning(tmp_path, reg):
    runner = Runner(RunConfig(tasks=["mlubench-mini"], methods=["scrub"]), reg, run_dir=tmp_path / "r")
    with pytest.raises(MuError, match=r"^--methods: method 'scrub' supports classification tasks; the tasks "
                                      r"planned are generation \(it would run on none of them\)$"):
        runner.plan()
    # with a classification task beside it, it runs there and is not applicable to the other
    both = Runner(RunConfig(tasks=["digits-class", "mlubench-mini"], methods=["scrub"]), reg, run_dir=tmp_path / "b")
    assert [m for _, m in both.plan()] == [["scrub"], ["scrub"]]


def test_the_refusal_is_one_line_from_the_command_line_before_anything_trains(tmp_path):
    proc = run_cli("run", "--tasks", "digits-class", "--methods", "rmu", "--output", str(tmp_path / "o"))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == ("mu-eval: error: --methods: method 'rmu' supports generation "
                                                    "tasks; the tasks planned are classification (it would run on "
                                                    "none of them)")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.pt"))


def test_a_preset_must_name_a_method(tmp_path):
    task = write(tmp_path / "t.yaml", "include: digits-class\ntask: t\npresets: {x: {lr: 0.1}}\n")
    proc = run_cli("validate", "t", "--include-path", str(task.parent))
    assert proc.returncode != 0 and "presets.x: needs 'method: <registered method>'" in proc.stderr


def test_results_written_under_an_old_name_load_under_the_new_one():
    old = {"methods": {"neggrad": {"status": "done", "requests": [{"index": 0, "metrics": {"accuracy": 1.0}}]},
                       "ga_klr": {"status": "done", "requests": []}}}
    assert _record(old, "ga") is old["methods"]["neggrad"]
    assert _record(old, "ga_klr") is old["methods"]["ga_klr"] and _record(old, "graddiff") is None
