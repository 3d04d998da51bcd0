"""Bad input and a hostile file system give one line naming the file, field or path, and exit 2;
a tabular CSV task runs end to end; validation lists every problem of a file at once."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import write

import mu_registry.cli.main as cli

TASK = """\
task: tiny1
dataset: {builder: digits, max_examples: {train: 150, test: 50}}
columns: {inputs: [image], label: label}
modality: image
model: {name: mlp, args: {hidden: [16]}, train: {epochs: 1, batch_size: 32, lr: 0.005}}
forget: {strategy: random, ratio: 0.1, seed: 2}
default_methods: [finetune]
metrics: [accuracy]
"""


@pytest.fixture
def mu(capsys):
    def call(*args: str) -> tuple[int, str, list[str]]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        noise = ("mu-eval: warning: plugin", "mu-eval: info:")
        return code, out, [line for line in err.strip().splitlines() if not line.startswith(noise)]
    return call


@pytest.fixture
def tasks(tmp_path) -> Path:
    write(tmp_path / "tasks" / "tiny1.yaml", TASK)
    return tmp_path / "tasks"


def _one_line(result: tuple[int, str, list[str]], expected: str) -> str:
    code, _, err = result
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("mu-eval: error: "), err
    assert expected in err[0], err[0]
    return err[0]


def test_bad_flags_are_one_line(mu, tasks, tmp_path):
    run = ("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(tmp_path / "o"))
    _one_line(mu(*run, "--limit", "-5"), "--limit -5: must be a positive number of examples per split")
    _one_line(mu(*run, "--limit", "0"), "--limit 0: must be a positive number of examples per split")
    _one_line(mu(*run, "--method-args", "finetune.lr=-1"),
              "method 'finetune': parameter 'lr' is a learning rate and must be > 0, got -1.0")
    _one_line(mu(*run, "--methods", "finetune", "--method-args", "ga.lr=0.1"),
              "--method-args ga.lr: method 'ga' is not run here (methods: finetune); add it to --methods")
    _one_line(mu("run", "--retry-failed", "--tasks", "tiny1"), "--retry-failed: only with --resume RUN_DIR")
    assert not (tmp_path / "o").exists()  # nothing ran


@pytest.mark.parametrize("yaml_value,expected", [
    ("{finetune: {lr: [1, 2]}}", "methods.finetune: parameter 'lr' expects float, got [1, 2]"),
    ("{finetune: {epochs: 1.5}}", "methods.finetune: parameter 'epochs' expects int, got 1.5"),
    ("{finetune: {epochs: many}}", "methods.finetune: parameter 'epochs' expects int, got 'many'"),
    ("{finetune: {lr: 0}}", "methods.finetune: parameter 'lr' is a learning rate and must be > 0, got 0"),
])
def test_a_wrong_hyperparameter_in_yaml_names_the_file(mu, tasks, tmp_path, yaml_value, expected):
    path = write(tasks / "tiny1.yaml", TASK + f"methods: {yaml_value}\n")
    line = _one_line(mu("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(tmp_path / "o")),
                     expected)
    assert line == f"mu-eval: error: {path}: {expected}"


def test_an_unwritable_output_or_cache_is_one_line_before_any_training(mu, tasks, tmp_path, monkeypatch):
    blocker = write(tmp_path / "a-file", "not a folder")
    _one_line(mu("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(blocker / "runs")),
              f"--output {blocker / 'runs'}: cannot write ")

    import mu_registry.protocols.record as runner_mod

    def read_only(path, data):
        raise OSError(errno.EROFS, "Read-only file system")
    with monkeypatch.context() as m:
        m.setattr(runner_mod, "atomic_write_json", read_only)
        line = _one_line(mu("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(tmp_path / "ro")),
                         "/results.json: Read-only file system")
        assert line.startswith(f"mu-eval: error: --output {tmp_path / 'ro'}: cannot write ")

    monkeypatch.setenv("MU_CACHE_DIR", str(blocker / "cache"))
    _one_line(mu("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(tmp_path / "o")),
              f"MU_CACHE_DIR {blocker / 'cache'}: not writable (")
    code, _, err = mu("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(tmp_path / "o"),
                      "--no-cache")
    assert code == 0, err

    if os.geteuid() != 0:  # a read-only folder (root writes anyway: the cases above inject the error instead)
        read_only_dir = tmp_path / "ro-cache"
        read_only_dir.mkdir()
        read_only_dir.chmod(0o555)
        monkeypatch.setenv("MU_CACHE_DIR", str(read_only_dir))
        _one_line(mu("run", "--tasks", "tiny1", "--include-path", str(tasks), "--output", str(tmp_path / "o2")),
                  f"MU_CACHE_DIR {read_only_dir}: not writable (Permission denied)")


def test_validation_lists_every_problem_of_a_task_file(mu, tmp_path):
    path = write(tmp_path / "tasks" / "bad.yaml", TASK.replace("task: tiny1", "task: bad")
                 .replace("ratio: 0.1", "ratio: 2").replace("epochs: 1,", "epochs: -1, colour: red,"))
    code, _, err = mu("validate", "--include-path", str(tmp_path / "tasks"), "bad")
    assert code == 2 and len(err) == 1
    for part in (str(path), "forget.ratio: Input should be less than or equal to 1", "model.train.colour: unknown key",
                 "model.train.epochs: Input should be greater than or equal to 0", "and 2 more: "):
        assert part in err[0], err[0]

    names = write(tmp_path / "names" / "names.yaml", TASK.replace("task: tiny1", "task: names")
                  .replace("metrics: [accuracy]", "metrics: [acuracy, nope]").replace("[finetune]", "[finetun]"))
    code, _, err = mu("validate", "--include-path", str(tmp_path / "names"), "names")
    assert code == 2 and len(err) == 1
    for part in (f"{names}: metrics[0]: unknown metric 'acuracy'", "metrics[1]: unknown metric 'nope'",
                 "default_methods[0]: unknown method 'finetun'", "and 2 more"):
        assert part in err[0], err[0]


TABULAR = """\
task: tabular-risk
description: four numeric columns of a local CSV and a 3-class string label
dataset:
  path: csv
  data_files: {train: train.csv, test: test.csv}
columns: {inputs: [age, income, score, height], label: risk}
modality: tabular
class_names: [low, mid, high]
model: {name: mlp, args: {hidden: [32]}, train: {epochs: 8, batch_size: 32, lr: 0.01}}
forget: {strategy: random, ratio: 0.1, seed: 0}
default_methods: [finetune]
metrics: [accuracy]
"""


def test_a_local_csv_tabular_task_validates_and_runs_with_the_mlp(mu, tmp_path):
    folder = tmp_path / "tabular"
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("test", 100)):
        x = rng.normal(size=(n, 4))
        y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
        rows = [",".join(f"{v:.4f}" for v in r) + f",{['low', 'mid', 'high'][c]}" for r, c in zip(x, y)]
        write(folder / f"{split}.csv", "age,income,score,height,risk\n" + "\n".join(rows) + "\n")
    write(folder / "tabular.yaml", TABULAR)
    code, out, err = mu("validate", "--include-path", str(folder), "--load", "tabular-risk")
    assert code == 0 and "ok      tabular-risk  (train 300, test 100, forget 30)" in out
    code, out, err = mu("run", "--tasks", "tabular-risk", "--include-path", str(folder),
                        "--output", str(tmp_path / "o"))
    assert code == 0, err
    (run_dir,) = (tmp_path / "o").iterdir()
    seed = json.loads((run_dir / "results.json").read_text())["tasks"]["tabular-risk"]["seeds"]["0"]
    # a learnable rule (3 classes, the largest holds about half the rows): the MLP learns it
    assert seed["original"]["requests"][0]["metrics"]["accuracy"]["test"] > 0.75
    assert seed["methods"]["finetune"]["status"] == "done"


@pytest.mark.parametrize("task", ["mlubench-mini", "pulse-mini-finetuned"])
def test_limit_shrinks_every_split_of_a_generative_task(task):
    from mu_registry.data.generative import build_qa_task
    from mu_registry.registry.manager import Registry
    from mu_registry.registry.task_index import TaskIndex

    registry = Registry()
    index = TaskIndex(registry)
    loaded = index.load(task)
    full, small = build_qa_task(loaded, registry), build_qa_task(loaded, registry, limit=7)
    assert len(full.train) > 7 and len(small.train) == 7
    sets = small.eval_sets()
    assert sets and all(0 < len(split) <= 7 for split in sets.values()), {k: len(v) for k, v in sets.items()}
    assert any(len(full.eval_sets()[k]) > 7 for k in sets)
    assert all(len(p) <= 7 for p in small.phases.values())
    # the same requests (entities) as without the limit, only fewer rows each
    assert [r.forget_units for r in small.requests] == [r.forget_units for r in full.requests]
    assert small.all_units == full.all_units


@pytest.mark.parametrize("args,expected", [
    (["run", "--seed", "0,x"], "mu-eval: error: --seed: seeds must be integers, got '0,x' (see: mu-eval run --help)"),
    (["run", "--limit", "abc"], "mu-eval: error: --limit: invalid int value: 'abc' (see: mu-eval run --help)"),
    (["lst"], "mu-eval: error: command: invalid choice: 'lst'"),
])
def test_a_bad_flag_value_is_one_line_without_the_usage_block(capsys, args, expected):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and err[0].startswith(expected), err
