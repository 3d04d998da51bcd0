"""Plots and `mu-eval report` for a finished run."""

from __future__ import annotations

from conftest import run_cli
from PIL import Image

from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner


def test_a_run_writes_accuracy_and_per_request_plots_and_report_rebuilds_them(tmp_path):
    config = RunConfig(tasks=["digits-random"], methods=["ga", "finetune"], limit=300,
                       task_overrides={"requests.count": 2, "model.train.epochs": 3})
    Runner(config, Registry(), run_dir=tmp_path / "run").run()
    plots = tmp_path / "run" / "plots"
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["digits-random-accuracy.png", "digits-random-requests.png"]
    for name in names:
        with Image.open(plots / name) as img:
            assert img.size[0] > 600 and img.size[1] > 200
        (plots / name).unlink()

    proc = run_cli("report", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert "[retrain]" in proc.stdout and "ga" in proc.stdout
    assert sorted(p.name for p in plots.iterdir()) == names


def test_report_on_a_folder_without_results_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("report", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no results.json" in proc.stderr
