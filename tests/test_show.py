"""`mu-eval show`, `include:` of a built-in task by name, and task files named after their tasks."""

from __future__ import annotations

import yaml

from mu_registry.cli.main import main
from mu_registry.registry.manager import Registry
from mu_registry.registry.task_index import TaskIndex


def _show(capsys, *argv: str) -> tuple[str, dict]:
    assert main(["show", *argv]) == 0
    header, _, body = capsys.readouterr().out.partition("\n")
    return header, yaml.safe_load(body)


def test_show_prints_the_resolved_task_and_its_file(capsys):
    header, shown = _show(capsys, "digits-class")
    assert header.startswith("# digits-class: ") and header.split()[2].endswith("digits/digits-class.yaml")
    assert shown == TaskIndex(Registry()).resolved("digits-class")
    assert shown["forget"] == {"strategy": "class", "classes": [3]}
    assert shown["model"]["name"] == "small_cnn"  # from the included template


def test_show_raw_prints_the_file_as_written_and_set_changes_the_resolved_keys(capsys):
    _, raw = _show(capsys, "digits-class", "--raw")
    assert raw["include"] == "_digits.yaml" and "model" not in raw
    _, shown = _show(capsys, "digits-class", "--set", "forget.classes=[5]", "--set", "model.train.epochs=2")
    assert shown["forget"]["classes"] == [5] and shown["model"]["train"]["epochs"] == 2


def test_show_of_an_unknown_name_is_one_line(capsys):
    assert main(["show", "digits-clas"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mu-eval: error: unknown task 'digits-clas' (did you mean 'digits-class' or 'digits'?)"]


def test_a_task_file_can_include_a_builtin_task_by_name(tmp_path, capsys):
    (tmp_path / "digits-class-5.yaml").write_text(
        "include: digits-class\ntask: digits-class-5\ndescription: digits, forget the digit 5\n"
        "forget: {classes: [5]}\n")
    index = TaskIndex(Registry(), [tmp_path])
    mine, builtin = index.load("digits-class-5").config, index.load("digits-class").config
    assert mine.forget.classes == [5] and mine.forget.strategy == "class"
    assert mine.model == builtin.model and mine.dataset == builtin.dataset
    assert main(["validate", "digits-class-5", "--include-path", str(tmp_path)]) == 0


def test_an_include_that_is_neither_a_file_nor_a_task_is_one_line(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text("include: digits-clas\ntask: t\n")
    assert main(["validate", "t", "--include-path", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mu-eval: error: {path}: include: included file 'digits-clas' does not exist "
                   "(nor is it a task name)"]


def test_builtin_task_and_group_files_are_named_after_their_tasks():
    index = TaskIndex(Registry())
    misnamed = [f"{tf.path} defines '{name}'" for name, tf in {**index.tasks, **index.groups}.items()
                if tf.source == "builtin_tasks" and tf.path.stem != name]
    assert misnamed == []


def test_every_builtin_task_has_a_one_line_description():
    index = TaskIndex(Registry())
    missing = [name for name, tf in index.tasks.items()
               if tf.source == "builtin_tasks" and not index.load(name).config.description.strip()]
    assert missing == []
