"""Faults injected into runs: a diverging or raising method, a raising metric, a full disk, signals.

Each test asserts the one-line message, the exit code, that the records already written are intact,
and that the run still resumes.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import HERE, write

import mu_registry.cli.main as cli
from mu_registry.registry.manager import Registry

sys.path.insert(0, str(HERE / "helpers"))
from faults import PLUGIN  # noqa: E402

TASK = """\
task: tiny2
dataset: {builder: digits, max_examples: {train: 200, test: 60}}
columns: {inputs: [image], label: label}
modality: image
model: {name: mlp, args: {hidden: [16]}, train: {epochs: 2, batch_size: 32, lr: 0.005}}
forget: {strategy: random, ratio: 0.1, seed: 2}
requests: {count: 2}
methods: {finetune: {epochs: 1}, faults/boom: {epochs: 1}, faults/sleepy: {epochs: 1}}
metrics: [accuracy, faults/flaky]
"""


@pytest.fixture
def tasks(tmp_path) -> Path:
    write(tmp_path / "tasks" / "tiny2.yaml", TASK)
    return tmp_path / "tasks"


@pytest.fixture
def mu(monkeypatch, capsys):
    """``mu(*args) -> (exit code, stdout, stderr lines)``: the CLI in this process, with the fault plugin."""
    monkeypatch.setattr(cli, "_registry", lambda: Registry(extra_plugins=[("faults", PLUGIN)]))

    def call(*args: str) -> tuple[int, str, list[str]]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        # plugin-loading warnings are another subject (tests/test_registry.py)
        noise = ("mu-eval: warning: plugin", "mu-eval: info:")
        return code, out, [line for line in err.strip().splitlines() if not line.startswith(noise)]
    return call


def _run_dir(output: Path) -> Path:
    (run_dir,) = output.iterdir()
    return run_dir


def _methods(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())["tasks"]["tiny2"]["seeds"]["0"]["methods"]


def test_a_diverging_method_is_failed_with_its_epoch_and_step_and_the_others_go_on(mu, tasks, tmp_path):
    code, out, err = mu("run", "--tasks", "tiny2", "--include-path", str(tasks), "--methods", "ga,finetune",
                        "--method-args", "ga.lr=1e30", "--set", "metrics=[accuracy, mia]",
                        "--output", str(tmp_path / "out"))
    assert code == 1, err
    run_dir = _run_dir(tmp_path / "out")
    methods = _methods(run_dir)
    neg = methods["ga"]
    assert neg["status"] == "failed" and neg["failed_request"] == 0
    assert neg["error"].startswith("diverged at epoch ") and " step " in neg["error"], neg["error"]
    assert neg["requests"] == []  # no metrics computed from non-finite weights
    assert not (run_dir / "checkpoints" / "tiny2" / "seed0" / "ga.pt").exists()
    assert methods["finetune"]["status"] == "done" and len(methods["finetune"]["requests"]) == 2
    assert all(math.isfinite(r["metrics"]["mia"]["auc"]) for r in methods["finetune"]["requests"])
    assert err[-1].startswith("mu-eval: error: 1 failed (tiny2/seed0/ga: diverged at epoch ")
    assert f"--resume {run_dir} --retry-failed" in err[-1]
    row = next(line for line in out.splitlines() if line.startswith("ga "))
    assert "failed" in row
    assert "diverged at epoch" in (run_dir / "errors.log").read_text()

    # resuming keeps the failed record and runs nothing again; the exit status still says it failed
    before = (run_dir / "errors.log").read_text()
    code, out, err = mu("run", "--resume", str(run_dir))
    assert code == 1 and (run_dir / "errors.log").read_text() == before
    assert _methods(run_dir)["finetune"] == methods["finetune"]


def test_the_divergence_check_sees_each_optimizer_step():
    from mu_registry.training.loop import Diverged, divergence_guard, note_epoch

    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=1.0)
    with pytest.raises(Diverged, match="diverged at epoch 2 step 3"), divergence_guard():
        for epoch in range(2):
            note_epoch()
            for step in range(4):
                opt.zero_grad()
                scale = float("inf") if (epoch, step) == (1, 2) else 1.0
                (w.sum() * scale).backward()
                opt.step()
    opt.step()  # outside the block nothing is checked


def test_a_raising_method_is_recorded_and_retried_only_with_retry_failed(mu, tasks, tmp_path, monkeypatch):
    monkeypatch.setenv("MU_FAULT_RAISE_AT", "1")
    code, out, err = mu("run", "--tasks", "tiny2", "--include-path", str(tasks),
                        "--methods", "faults/boom,finetune", "--output", str(tmp_path / "out"))
    assert code == 1
    run_dir = _run_dir(tmp_path / "out")
    boom = _methods(run_dir)["faults/boom"]
    assert boom["status"] == "failed" and boom["failed_request"] == 1
    assert boom["error"] == "RuntimeError: boom: injected failure second line of the message"
    assert len(boom["requests"]) == 1  # request 0 kept
    assert "Traceback" in (run_dir / "errors.log").read_text()
    assert _methods(run_dir)["finetune"]["status"] == "done"
    assert any("faults/boom" in line and "failed at request 1" in line for line in err)

    # --resume alone skips it (and still exits non-zero); --retry-failed continues it from request 1
    code, _, _ = mu("run", "--resume", str(run_dir))
    assert code == 1 and _methods(run_dir)["faults/boom"]["status"] == "failed"
    monkeypatch.delenv("MU_FAULT_RAISE_AT")
    code, out, err = mu("run", "--resume", str(run_dir), "--retry-failed")
    assert code == 0, err
    again = _methods(run_dir)["faults/boom"]
    assert again["status"] == "done" and "error" not in again
    assert again["requests"][0] == boom["requests"][0] and len(again["requests"]) == 2

    # the same two requests without the fault: identical numbers
    code, _, _ = mu("run", "--tasks", "tiny2", "--include-path", str(tasks), "--methods", "faults/boom",
                    "--output", str(tmp_path / "clean"))
    clean = _methods(_run_dir(tmp_path / "clean"))["faults/boom"]
    assert [r["metrics"] for r in clean["requests"]] == [r["metrics"] for r in again["requests"]]


def test_a_raising_metric_fails_only_that_method(mu, tasks, tmp_path, monkeypatch):
    monkeypatch.setenv("MU_FAULT_METRIC_AT", "1")
    code, out, err = mu("run", "--tasks", "tiny2", "--include-path", str(tasks), "--methods", "finetune",
                        "--output", str(tmp_path / "out"))
    assert code == 1
    rec = _methods(_run_dir(tmp_path / "out"))["finetune"]
    assert rec["status"] == "failed" and len(rec["requests"]) == 1
    assert rec["error"] == "metric 'faults/flaky' raised ValueError: flaky metric: injected failure"


def test_resume_refuses_a_changed_task_a_changed_plugin_and_changing_flags(mu, tasks, tmp_path, monkeypatch):
    monkeypatch.setenv("MU_FAULT_RAISE_AT", "1")
    mu("run", "--tasks", "tiny2", "--include-path", str(tasks), "--methods", "faults/boom",
       "--output", str(tmp_path / "out"))
    run_dir = _run_dir(tmp_path / "out")
    results_file = run_dir / "results.json"
    recorded = results_file.read_text()

    code, _, err = mu("run", "--resume", str(run_dir), "--methods", "finetune", "--limit", "50")
    assert code == 2 and len(err) == 1
    assert err[0] == (f"mu-eval: error: --resume {run_dir}: --methods, --limit differ from the run's recorded "
                      "configuration; a resumed run keeps its own (drop them, or start a new run)")
    code, _, err = mu("run", "--resume", str(run_dir), "--methods", "faults/boom", "--retry-failed")
    assert code == 1  # the same value as recorded is accepted

    write(tasks / "tiny2.yaml", TASK.replace("seed: 2", "seed: 3"))
    code, _, err = mu("run", "--resume", str(run_dir), "--retry-failed")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"mu-eval: error: cannot resume {run_dir}: task 'tiny2' ({tasks / 'tiny2.yaml'}) "
                             "changed since the run started (content hash ")
    write(tasks / "tiny2.yaml", TASK)

    doc = json.loads(results_file.read_text())
    name = next(n for n, info in sorted(doc["plugins"].items()) if info["status"] == "loaded" and info["version"])
    doc["plugins"][name]["version"] = "0.0.1"
    results_file.write_text(json.dumps(doc))
    code, _, err = mu("run", "--resume", str(run_dir))
    assert code == 2 and len(err) == 1 and f"plugin '{name}' was version 0.0.1, now " in err[0]
    results_file.write_text(recorded)
    assert json.loads(results_file.read_text())["tasks"]["tiny2"]["seeds"]["0"]["methods"]["faults/boom"][
        "status"] == "failed"  # nothing was overwritten by the refused attempts
    monkeypatch.delenv("MU_FAULT_RAISE_AT")
    code, _, err = mu("run", "--resume", str(run_dir), "--retry-failed")
    assert code == 0, err


def test_report_on_an_interrupted_run_names_what_is_missing_and_how_to_resume(mu, tasks, tmp_path, monkeypatch):
    def interrupt_at_request_1(self, ctx):
        if ctx.request_index == 1:
            raise KeyboardInterrupt
        return type(self).__mro__[1].unlearn(self, ctx)

    from faults import Boom
    monkeypatch.setattr(Boom, "unlearn", interrupt_at_request_1)
    code, _, err = mu("run", "--tasks", "tiny2", "--include-path", str(tasks),
                      "--methods", "finetune,faults/boom,faults/sleepy", "--output", str(tmp_path / "out"))
    run_dir = _run_dir(tmp_path / "out")
    assert code == 130
    assert err[-1] == f"mu-eval: interrupted; finished requests are saved; resume with: mu-eval run --resume {run_dir}"
    assert json.loads((run_dir / "results.json").read_text())["status"] == "interrupted"

    code, out, err = mu("report", str(run_dir))
    assert code == 0
    assert out.startswith("INCOMPLETE RUN (status: interrupted)")
    assert "  missing: tiny2 seed 0: faults/boom requests 1, faults/sleepy not started" in out
    assert f"  resume with: mu-eval run --resume {run_dir}" in out
    assert any(line.startswith("faults/boom (1/2 requests) ") for line in out.splitlines())
    assert any(line.startswith("finetune ") for line in out.splitlines())

    monkeypatch.undo()
    monkeypatch.setattr(cli, "_registry", lambda: Registry(extra_plugins=[("faults", PLUGIN)]))
    code, out, err = mu("run", "--resume", str(run_dir))
    assert code == 0, err
    assert "INCOMPLETE" not in out and "(1/2 requests)" not in out


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_leave_a_resumable_run_and_print_the_resume_command(tasks, tmp_path, sig, code):
    marker = tmp_path / "marker"
    env = {**os.environ, "MU_FAULT_SLEEP_AT": "1", "MU_FAULT_MARKER": str(marker)}
    cmd = [sys.executable, str(HERE / "helpers" / "faulty_cli.py"), "run", "--tasks", "tiny2", "--include-path",
           str(tasks), "--methods", "faults/sleepy", "--output", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()[1]
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    run_dir = _run_dir(tmp_path / "out")
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == (f"mu-eval: interrupted; finished requests are saved; resume with: "
                                               f"mu-eval run --resume {run_dir}")
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["status"] == "interrupted"
    assert len(doc["tasks"]["tiny2"]["seeds"]["0"]["methods"]["faults/sleepy"]["requests"]) == 1

    env.pop("MU_FAULT_SLEEP_AT")
    done = subprocess.run([sys.executable, str(HERE / "helpers" / "faulty_cli.py"), "run", "--resume", str(run_dir)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(_methods(run_dir)["faults/sleepy"]["requests"]) == 2


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_the_run_resumes(mu, tasks, tmp_path, monkeypatch):
    import errno

    import mu_registry.protocols.record as runner_mod

    real = runner_mod.atomic_torch_save
    calls = []

    def full_disk(obj, path):
        calls.append(path)
        if len(calls) == 2:  # the checkpoint of request 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, path)

    monkeypatch.setattr(runner_mod, "atomic_torch_save", full_disk)
    code, _, err = mu("run", "--tasks", "tiny2", "--include-path", str(tasks), "--methods", "finetune",
                      "--output", str(tmp_path / "out"))
    run_dir = _run_dir(tmp_path / "out")
    ckpt = run_dir / "checkpoints" / "tiny2" / "seed0" / "finetune.pt"
    assert code == 2 and len(err) == 1
    assert err[0] == (f"mu-eval: error: cannot write checkpoint {ckpt}: [Errno 28] No space left on device; the "
                      f"requests recorded so far are intact (free space, then resume with: mu-eval run --resume "
                      f"{run_dir})")
    assert len(_methods(run_dir)["finetune"]["requests"]) == 1
    monkeypatch.setattr(runner_mod, "atomic_torch_save", real)
    code, _, err = mu("run", "--resume", str(run_dir))
    assert code == 0, err
    assert len(_methods(run_dir)["finetune"]["requests"]) == 2


def test_a_batch_whose_loss_touches_no_trainable_weight_is_passed_over_not_a_crash():
    """pulse-smol-pretrained's root cause: with the language model frozen only the vision tower and
    projector train, and a batch of text-only rows has a loss with no gradient path to them."""
    from mu_registry.config.task import TrainConfig
    from mu_registry.training.loop import train_steps

    torch.manual_seed(0)
    frozen, vision = torch.nn.Linear(3, 1), torch.nn.Linear(3, 3)
    frozen.requires_grad_(False)
    module = torch.nn.ModuleDict({"lm": frozen, "vision": vision})
    before = vision.weight.detach().clone()
    x = torch.randn(4, 3)

    def loss(batch):  # "image" batches go through the trainable tower, text-only ones do not
        h = vision(x) if batch == "image" else x
        return frozen(h).pow(2).mean()

    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.1, optimizer="sgd")
    train_steps(module, cfg, seed=0, device=torch.device("cpu"), steps_per_epoch=3,
                batches=lambda g: iter(["text", "image", "text"]), loss=loss)
    assert not torch.equal(vision.weight, before)  # the image batches trained it

    with pytest.raises(ValueError, match=r"no batch's loss depends on a trainable weight \(4 batches\)"):
        train_steps(module, cfg, seed=0, device=torch.device("cpu"), steps_per_epoch=2,
                    batches=lambda g: iter(["text", "text"]), loss=loss)
