"""Plugins that register unusable classes or contested names: only those entries are disabled."""

from __future__ import annotations

import logging

import pytest
from conftest import PLUGIN_PACKAGES, _pip_install, run_cli, write

import mu_registry.cli.main as cli
from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner

TASK = """\
task: tiny1
dataset: {builder: digits, max_examples: {train: 120, test: 40}}
columns: {inputs: [image], label: label}
modality: image
model: {name: mlp, args: {hidden: [8]}, train: {epochs: 1, batch_size: 32, lr: 0.005}}
forget: {strategy: random, ratio: 0.1, seed: 2}
metrics: [accuracy]
"""


@pytest.fixture(scope="module")
def abstract_site(tmp_path_factory):
    return _pip_install(PLUGIN_PACKAGES / "mu-abstract-plugin", tmp_path_factory.mktemp("abstract_site"))


@pytest.fixture(scope="module")
def clash_site(tmp_path_factory):
    return _pip_install(PLUGIN_PACKAGES / "mu-clash-plugin", tmp_path_factory.mktemp("clash_site"))


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("mu-eval: warning:")]


def test_unusable_method_classes_are_disabled_one_by_one_with_one_line_each(
        abstract_site, tmp_path, with_site, monkeypatch, caplog, capsys):
    res = run_cli("list", "methods", sites=(abstract_site,))
    assert res.returncode == 0, res.stderr
    warned = _warnings(res.stderr)
    assert len(warned) == 3, res.stderr
    prefix = "mu-eval: warning: plugin 'halfdone' (mu-abstract-plugin 0.2.0): method "
    assert (prefix + "'halfdone/unfinished' is disabled: Unfinished cannot be instantiated: abstract method unlearn "
            "not implemented") in warned
    assert any(w.startswith(prefix + "'halfdone/not_a_method' is disabled: <class") and
               "is not a subclass of mu_registry.Method" in w for w in warned)
    assert prefix + "'halfdone/no_task_type' is disabled: NoTaskType.supports names no task type" in warned
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert "halfdone/keep" in names and "ga" in names and "halfdone/unfinished" not in names

    # in-process from here (fast): the plugin's site on sys.path, its entry point discovered
    with_site(abstract_site)
    monkeypatch.setattr(logging.getLogger("mu_registry"), "propagate", True)
    write(tmp_path / "tasks" / "tiny1.yaml", TASK)
    registry = Registry()
    caplog.clear()
    plan = Runner(RunConfig(tasks=["tiny1"], methods=["all"], include_paths=[str(tmp_path / "tasks")]),
                  registry, run_dir=tmp_path / "run").plan()
    methods = plan[0][1]
    assert "halfdone/keep" in methods and "ga" in methods
    assert not any(m.startswith("halfdone/") and m != "halfdone/keep" for m in methods)
    lazy = [r.getMessage() for r in caplog.records if "halfdone/lazy_unfinished" in r.getMessage()]
    assert lazy == [prefix.removeprefix("mu-eval: warning: ") + "'halfdone/lazy_unfinished' is disabled: "
                    "Unfinished cannot be instantiated: abstract method unlearn not implemented"]

    monkeypatch.setattr(cli, "_registry", lambda: registry)
    code = cli.main(["run", "--tasks", "tiny1", "--include-path", str(tmp_path / "tasks"), "--methods",
                     "halfdone/keep,halfdone/unfinished", "--output", str(tmp_path / "out2")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mu-eval: error:")]
    assert code == 2 and errors == [
        "mu-eval: error: --methods: method 'halfdone/unfinished' of plugin 'halfdone' is disabled: "
        "Unfinished cannot be instantiated: abstract method unlearn not implemented"]
    code = cli.main(["run", "--tasks", "tiny1", "--include-path", str(tmp_path / "tasks"), "--methods",
                     "halfdone/keep", "--output", str(tmp_path / "out3")])
    assert code == 0, capsys.readouterr().err


def test_a_name_two_plugins_register_is_disabled_and_only_a_run_asking_for_it_fails(
        clash_site, tmp_path, with_site, monkeypatch, capsys):
    expected = ("mu-eval: warning: method 'neggrad' is registered by both plugin 'builtin_methods' (mu-registry "
                "{v}) and plugin 'clash' (mu-clash-plugin 1.2.0); it is disabled (a run that asks for it fails) "
                "and everything else works; keep one with MU_DISABLE_PLUGINS=clash")
    for args in (("plugins",), ("list", "methods")):
        res = run_cli(*args, sites=(clash_site,))
        assert res.returncode == 0, res.stderr
        (warned,) = _warnings(res.stderr)
        version = warned.split("(mu-registry ")[1].split(")")[0]
        assert warned == expected.format(v=version)
    assert "clash/unchanged" in res.stdout and "\nneggrad " not in res.stdout

    with_site(clash_site)  # in-process from here
    write(tmp_path / "tasks" / "tiny1.yaml", TASK)
    run = ["run", "--tasks", "tiny1", "--include-path", str(tmp_path / "tasks")]
    monkeypatch.setattr(cli, "_registry", lambda: Registry())
    code = cli.main([*run, "--methods", "neggrad", "--output", str(tmp_path / "a")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mu-eval: error:")]
    assert code == 2
    assert errors == ["mu-eval: error: --methods: method 'neggrad' is registered by both plugin 'builtin_methods' and "
                      "plugin 'clash'; disable one with MU_DISABLE_PLUGINS or namespace the name as 'package/neggrad'"]
    code = cli.main([*run, "--methods", "clash/unchanged", "--output", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 0, err
    monkeypatch.setenv("MU_DISABLE_PLUGINS", "clash")
    code = cli.main([*run, "--methods", "neggrad", "--output", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 0 and "registered by both" not in err, err
    assert "method 'neggrad' is deprecated: use 'ga'" in err  # the built-in's old name for ga
