"""The model cache sees code changes (a plugin's model source or version) and survives corrupt entries."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from conftest import PLUGIN_PACKAGES, _pip_install, run_cli, write

from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner

TASK = """\
task: cachetask
dataset: {builder: digits, max_examples: {train: 150, test: 50}}
columns: {inputs: [image], label: label}
modality: image
model: {name: MODEL, train: {epochs: 1, batch_size: 32, lr: 0.005}}
forget: {strategy: random, ratio: 0.1, seed: 2}
default_methods: [finetune]
methods: {finetune: {epochs: 1}}
metrics: [accuracy]
"""


def _original(out: Path) -> dict:
    (run_dir,) = out.iterdir()
    return json.loads((run_dir / "results.json").read_text())["tasks"]["cachetask"]["seeds"]["0"]["original"]


def test_editing_or_upgrading_a_plugin_model_retrains_instead_of_reusing_stale_weights(tmp_path):
    site = _pip_install(PLUGIN_PACKAGES / "mu-model-plugin", tmp_path / "site")
    write(tmp_path / "tasks" / "cachetask.yaml", TASK.replace("MODEL", "modelplug/mlp"))
    env = {"MU_CACHE_DIR": str(tmp_path / "cache")}

    def run(name: str) -> dict:
        res = run_cli("run", "--tasks", "cachetask", "--include-path", str(tmp_path / "tasks"),
                      "--output", str(tmp_path / name), sites=(site,), env=env)
        assert res.returncode == 0, res.stderr
        assert "Traceback" not in res.stderr
        return _original(tmp_path / name)

    first, again = run("a"), run("b")
    assert not first["cached"] and again["cached"] and first["cache_key"] == again["cache_key"]

    module = site / "mu_model_plugin" / "__init__.py"
    module.write_text(module.read_text().replace("WIDTH = 16", "WIDTH = 24"))  # new shapes
    shutil.rmtree(site / "mu_model_plugin" / "__pycache__", ignore_errors=True)
    edited = run("c")
    assert not edited["cached"] and edited["cache_key"] != first["cache_key"]

    (meta,) = site.glob("mu_model_plugin-*.dist-info/METADATA")  # a version bump alone, same code
    meta.write_text(re.sub(r"(?m)^Version: .*$", "Version: 1.0.1", meta.read_text()))
    bumped = run("d")
    assert not bumped["cached"] and bumped["cache_key"] not in (first["cache_key"], edited["cache_key"])


def test_a_corrupt_cache_entry_is_named_in_one_line_and_rebuilt(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("MU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(logging.getLogger("mu_registry"), "propagate", True)  # the CLI turns it off
    write(tmp_path / "tasks" / "cachetask.yaml", TASK.replace("MODEL", "mlp"))

    def run(name: str) -> dict:
        config = RunConfig(tasks=["cachetask"], include_paths=[str(tmp_path / "tasks")])
        results = Runner(config, Registry(), run_dir=tmp_path / name).run()
        return results["tasks"]["cachetask"]["seeds"]["0"]["original"]

    first = run("a")
    entry = tmp_path / "cache" / "models" / f"{first['cache_key']}.pt"
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    caplog.clear()
    rebuilt = run("b")
    assert not rebuilt["cached"] and rebuilt["cache_key"] == first["cache_key"]
    assert rebuilt["requests"] == first["requests"]  # retrained to the same weights
    lines = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(lines) == 1 and str(entry) in lines[0] and "\n" not in lines[0]
    assert run("c")["cached"]  # the rebuilt entry is good
