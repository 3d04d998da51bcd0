"""The README's plugin example, taken from the README as written, installed as a package and run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import REPO, _pip_install, run_cli

# a file name in backquotes and a colon on its own line, a blank line, then a fenced block
FILE_BLOCK = re.compile(r"^`([\w./-]+)`:\n\n```\w*\n(.*?)^```$", re.M | re.S)


def readme_plugin_files() -> dict[str, str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Writing a plugin\n", 1)[1].split("\n## ", 1)[0]
    return {name: body for name, body in FILE_BLOCK.findall(section)}


def test_the_readme_plugins_import_only_the_facade():
    for name, body in readme_plugin_files().items():
        if name.endswith(".py"):
            imports = re.findall(r"^\s*(?:from|import) (mu_registry[\w.]*)", body, re.M)
            assert imports and set(imports) == {"mu_registry"}, (name, imports)


def test_the_readme_plugin_installs_and_runs_on_its_task(tmp_path):
    files = {k: v for k, v in readme_plugin_files().items() if not k.startswith("generative/")}
    assert set(files) == {"pyproject.toml", "mu_my_plugin/__init__.py", "mu_my_plugin/tasks/my-digits.yaml"}
    package = tmp_path / "mu-my-plugin"
    for name, body in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(body, encoding="utf-8")
    site = _pip_install(package, tmp_path / "site")  # pip install --no-deps --no-build-isolation --target

    plugins = run_cli("plugins", sites=(site,))
    assert plugins.returncode == 0, plugins.stderr
    assert "my_plugin  [mu-my-plugin 0.1.0]  loaded" in plugins.stdout

    out = tmp_path / "results"
    proc = run_cli("run", "--tasks", "my-digits", "--limit", "300", "--output", str(out), sites=(site,))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next(Path(out).glob("*/results.json")).read_text())
    task = results["tasks"]["my-digits"]
    assert task["config"]["forget"]["classes"] == [3]  # from the built-in task it includes by name
    record = task["seeds"]["0"]["methods"]["my/ascent_descent"]
    assert record["status"] == "done"
    metrics = record["requests"][0]["metrics"]
    # the plugin's metric is 1 - accuracy on the forget set, computed on the same outputs as accuracy
    assert abs(metrics["my/forget_error"] - (1.0 - metrics["accuracy"]["forget"])) < 1e-9


def test_the_readme_generative_plugin_installs_and_runs_on_its_task(tmp_path):
    files = {k.removeprefix("generative/"): v for k, v in readme_plugin_files().items() if k.startswith("generative/")}
    assert set(files) == {"pyproject.toml", "mu_my_generative/__init__.py", "mu_my_generative/tasks/my-entities.yaml"}
    package = tmp_path / "mu-my-generative"
    for name, body in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(body, encoding="utf-8")
    site = _pip_install(package, tmp_path / "site")

    listed = run_cli("list", "methods", sites=(site,))
    assert listed.returncode == 0 and "my/capped_ascent" in listed.stdout and "generation" in listed.stdout
    out = tmp_path / "results"
    proc = run_cli("run", "--tasks", "my-entities", "--output", str(out), sites=(site,))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next(Path(out).glob("*/results.json")).read_text())
    record = results["tasks"]["my-entities"]["seeds"]["0"]["methods"]["my/capped_ascent"]
    assert record["status"] == "done" and [r["index"] for r in record["requests"]] == [0, 1]
    assert record["params"]["cap"] == 5.0 and record["params"]["lr"] == 0.001  # its Params, the task's override
    summary = record["requests"][-1]["summary"]
    assert 0.0 <= summary["forget_accuracy"] <= 1.0 and 0.0 <= summary["retain_accuracy"] <= 1.0
