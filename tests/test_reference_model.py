"""The reference model of NPO / KL / DPO: MLUBench's choice (the model the request starts from) is what its
tasks run, and a wrong value is one line naming the task file and field, before anything trains.

MLUBench's release (lihe-maxsize/Lifelong_Unlearning_main @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
LLaVA_unlearning_main.zip), llava/train/train.py l.1169-1177: the oracle model is loaded from
model_args.model_name_or_path, the path of the model being trained; --oracle_model_path (l.78) is never read.
The loss values at the start of a request are checked in tests/test_llm_methods.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write

import mu_registry.cli.main as cli
from mu_registry.registry.manager import Registry
from mu_registry.registry.task_index import TaskIndex

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("task", ["mlubench", "mlubench-mini"])
def test_mlubench_tasks_use_the_model_the_request_starts_from(task):
    methods = TaskIndex(Registry()).load(task).config.methods
    for name in ("npo", "ga_klr", "idk_dpo"):
        assert methods[name]["reference_model"] == "request_start", (task, name)
    cls = Registry().method("npo", task_type="generation")
    assert cls.make_params({}).reference_model == "original"  # the parameter's own default (other tasks)


def test_an_unknown_reference_model_is_one_line_naming_the_file_and_field(capsys, tmp_path):
    text = (REPO / "tasks" / "mlubench_mini" / "mlubench-mini.yaml").read_text()
    text = text.replace("task: mlubench-mini", "task: mlubench-mini-bad").replace(
        "npo: {lr: 0.0005, reference_model: request_start}", "npo: {lr: 0.0005, reference_model: start}")
    path = write(tmp_path / "tasks" / "bad.yaml", text)
    out = tmp_path / "o"
    code = cli.main(["run", "--tasks", "mlubench-mini-bad", "--methods", "npo", "--include-path",
                     str(tmp_path / "tasks"), "--output", str(out)])
    err = [line for line in capsys.readouterr().err.strip().splitlines()
           if not line.startswith(("mu-eval: warning: plugin", "mu-eval: info:"))]
    assert code == 2
    assert err == [f"mu-eval: error: {path}: methods.npo: reference_model must be one of request_start, "
                   "original, got 'start'"]
    assert not out.exists()  # nothing ran
