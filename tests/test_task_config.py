"""Task YAML: schema, include inheritance, groups, and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, write

from mu_registry.util.errors import ConfigError, MuError, UnknownNameError
from mu_registry.registry.manager import Registry
from mu_registry.data.classification import build_task
from mu_registry.registry.task_index import TaskIndex

BASE = """\
dataset: {builder: digits, max_examples: {train: 300, test: 100}}
columns: {inputs: [image], label: label}
modality: image
model: {name: mlp, train: {epochs: 2, lr: 0.01}}
forget: {strategy: random, ratio: 0.1}
"""


@pytest.fixture
def folder(tmp_path) -> Path:
    write(tmp_path / "tasks" / "_base.yaml", BASE)
    return tmp_path / "tasks"


def index_for(folder: Path) -> TaskIndex:
    return TaskIndex(Registry(), [folder])


def test_include_inherits_and_overrides_nested_keys(folder):
    write(folder / "child.yaml", "include: _base.yaml\ntask: child\nmodel: {train: {epochs: 7}}\n")
    cfg = index_for(folder).load("child").config
    assert cfg.model.name == "mlp" and cfg.model.train.epochs == 7 and cfg.model.train.lr == 0.01
    assert cfg.dataset.builder == "digits"


def test_include_chain_and_cycle(folder):
    write(folder / "_mid.yaml", "include: _base.yaml\nforget: {ratio: 0.05}\n")
    write(folder / "leaf.yaml", "include: _mid.yaml\ntask: leaf\n")
    assert index_for(folder).load("leaf").config.forget.ratio == 0.05
    write(folder / "_a.yaml", "include: _b.yaml\n")
    write(folder / "_b.yaml", "include: _a.yaml\n")
    write(folder / "cyc.yaml", "include: _a.yaml\ntask: cyc\n")
    with pytest.raises(ConfigError, match="include cycle"):
        index_for(folder).load("cyc")


def test_templates_are_not_tasks(folder):
    write(folder / "child.yaml", "include: _base.yaml\ntask: child\n")
    index = index_for(folder)
    assert "child" in index.all_names() and "_base" not in index.all_names()
    assert all(tf.path.name != "_base.yaml" for tf in index.tasks.values())


@pytest.mark.parametrize("body, key, problem", [
    ("include: _base.yaml\ntask: t\nforget: {ratio: high}\n", "forget.ratio", "valid number"),
    ("include: _base.yaml\ntask: t\nforgett: {ratio: 0.1}\n", "forgett", "unknown key"),
    ("include: _base.yaml\ntask: t\nmodality: smell\n", "modality", "Input should be"),
    ("task: t\ncolumns: {inputs: [x], label: y}\nmodality: image\nmodel: {name: mlp}\n", "dataset",
     "required key is missing"),
    ("include: _base.yaml\ntask: t\nforget: {strategy: class}\n", "forget", "needs 'classes'"),
    ("include: _nope.yaml\ntask: t\n", "include", "does not exist"),
])
def test_bad_files_name_the_file_and_the_key(folder, body, key, problem):
    path = write(folder / "t.yaml", body)
    with pytest.raises(ConfigError) as exc:
        index_for(folder).load("t")
    msg = str(exc.value)
    assert msg.startswith(f"{path}: {key}: ") and problem in msg and "\n" not in msg


def test_yaml_syntax_error_gives_line_and_column(folder):
    path = write(folder / "broken.yaml", "task: broken\nforget: {ratio: 0.1\n")
    index = index_for(folder)
    assert len(index.broken) == 1
    assert str(index.broken[0]).startswith(f"{path}: YAML syntax error at line")


def test_unknown_references_are_caught_before_running(folder):
    write(folder / "t.yaml", "include: _base.yaml\ntask: t\nmodel: {name: mpl}\nmetrics: [accuracy]\n")
    index = index_for(folder)
    with pytest.raises(UnknownNameError, match=r"t.yaml: model.name: unknown model 'mpl' \(did you mean 'mlp'\?\)"):
        index.check(index.load("t"))


def test_missing_column_is_reported_when_data_loads(folder):
    path = write(folder / "t.yaml", "include: _base.yaml\ntask: t\ncolumns: {inputs: [pixels], label: label}\n")
    index = index_for(folder)
    with pytest.raises(ConfigError, match=rf"^{path}: columns.inputs\[0\]: column 'pixels' is not in split"):
        build_task(index.load("t"), index.registry)


def test_groups_expand_recursively_in_order_without_repeats(folder):
    write(folder / "a.yaml", "include: _base.yaml\ntask: a\n")
    write(folder / "b.yaml", "include: _base.yaml\ntask: b\n")
    write(folder / "g1.yaml", "group: g1\ntask: [b, a]\n")
    write(folder / "g2.yaml", "group: g2\ntask: [g1, a, b]\n")
    index = index_for(folder)
    assert index.expand(["g2"]) == ["b", "a"]
    assert index.expand(["a", "g1"]) == ["a", "b"]
    write(folder / "g3.yaml", "group: g3\ntask: [g4]\n")
    write(folder / "g4.yaml", "group: g4\ntask: [g3]\n")
    with pytest.raises(MuError, match="group cycle"):
        index_for(folder).expand(["g3"])
    with pytest.raises(UnknownNameError, match="did you mean 'g1'"):
        index.expand(["g1x"])


def test_two_files_defining_one_task_is_an_error(folder, tmp_path):
    write(folder / "a.yaml", "include: _base.yaml\ntask: a\n")
    other = write(tmp_path / "more" / "a.yaml", "task: a\n")
    with pytest.raises(MuError, match=rf"task 'a' is defined twice: in {folder / 'a.yaml'}.* and in {other}"):
        TaskIndex(Registry(), [folder, tmp_path / "more"])


def test_builtin_tasks_all_validate():
    res = run_cli("validate")
    assert res.returncode == 0, res.stderr
    assert "ok      fashion-mnist-random" in res.stdout and "ok      group offline-default" in res.stdout


def test_validate_exits_2_with_one_line_per_bad_file(folder):
    write(folder / "good.yaml", "include: _base.yaml\ntask: good\n")
    bad = write(folder / "bad.yaml", "include: _base.yaml\ntask: bad\nforget: {ratio: 2}\n")
    res = run_cli("validate", "--include-path", str(folder))
    assert res.returncode == 2
    assert "ok      good" in res.stdout
    errors = res.stderr.strip().splitlines()
    assert errors == [f"mu-eval: error: {bad}: forget.ratio: Input should be less than or equal to 1 (got 2)"]


def test_validate_load_checks_columns(folder):
    write(folder / "t.yaml", "include: _base.yaml\ntask: t\ncolumns: {inputs: [image], label: target}\n")
    assert run_cli("validate", "t", "--include-path", str(folder)).returncode == 0
    res = run_cli("validate", "t", "--load", "--include-path", str(folder))
    assert res.returncode == 2 and "columns.label: column 'target' is not in split" in res.stderr


def test_holdout_cuts_a_fixed_stratified_share_of_the_test_split(folder):
    write(folder / "t.yaml", "include: _base.yaml\ntask: t\n"
          "dataset: {holdout: {eval: {source: test, fraction: 0.25}}}\nselect_best: {split: eval}\n")
    index = index_for(folder)
    plain = build_task(index.load("t"), index.registry)
    again = build_task(index.load("t"), index.registry)
    held, test = plain.extra["eval"], plain.test
    assert len(held) == 25 and len(test) == 75  # 100 test rows: a quarter held out, the rest stays test
    assert not set(held.ids.tolist()) & set(test.ids.tolist())  # disjoint
    assert held.ids.tolist() == again.extra["eval"].ids.tolist()  # fixed: part of the task, not the run
    # stratified: every class keeps its share (within one row) in both parts
    full = np.concatenate([held.columns["label"], test.columns["label"]])
    for c in np.unique(full):
        assert abs((held.columns["label"] == c).sum() - 0.25 * (full == c).sum()) <= 1


@pytest.mark.parametrize("holdout, problem", [
    ("{eval: {source: train, fraction: 0.2}}", "holdout.eval.source: cannot cut from 'train'"),
    ("{eval: {source: dev, fraction: 0.2}}", "holdout.eval.source: 'dev' is not a role"),
    ("{test: {source: test, fraction: 0.2}}", "holdout.test: role 'test' is already a split"),
    ("{eval: {source: test, fraction: 1.5}}", "fraction"),
])
def test_bad_holdout_names_the_key(folder, holdout, problem):
    write(folder / "t.yaml", f"include: _base.yaml\ntask: t\ndataset: {{holdout: {holdout}}}\n")
    with pytest.raises(ConfigError, match=problem):
        index_for(folder).load("t")


def test_select_best_may_name_a_holdout_role_but_not_an_unknown_one(folder):
    write(folder / "t.yaml", "include: _base.yaml\ntask: t\nselect_best: {split: eval}\n")
    with pytest.raises(ConfigError, match="select_best.split: 'eval' is not a role under dataset.splits or "
                                          "dataset.holdout"):
        index_for(folder).load("t")


def test_a_holdout_too_small_for_every_class_names_the_key(folder):
    path = write(folder / "t.yaml", "include: _base.yaml\ntask: t\n"
                 "dataset: {holdout: {eval: {source: test, fraction: 0.02}}}\n")  # 2 rows for 10 digit classes
    index = index_for(folder)
    with pytest.raises(ConfigError, match=rf"^{path}: dataset.holdout.eval: cannot cut 0.02 of 'test' stratified"):
        build_task(index.load("t"), index.registry)
