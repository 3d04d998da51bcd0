"""The lifelong protocol on the offline entity world with a tiny LLaVA: requests in order, every set
evaluated after each, checkpoints that let a killed run resume to identical numbers, and the
behaviour the papers report (GA collapses the model; LUMoE forgets while keeping retain utility)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HERE, run_cli, write

pytest.importorskip("transformers")
pytest.importorskip("peft")

TINY = """
task: lifelong-tiny
task_type: generation
modality: image-text
dataset:
  builder: entity_world
  builder_args: {entities: 14, images_per_entity: 2, paraphrases: 3, train_paraphrases: 2, seed: 0}
columns: {inputs: [question, image], label: answer, unit: entity, form: form}
lifelong: {requests: 3, forget_units: 2, retain_units: 2, paraphrase_split: test}
model:
  name: tiny_llava
  args: {hidden_size: 64, layers: 2, heads: 2}
  train: {epochs: 40, batch_size: 16, lr: 0.003, optimizer: adamw, warmup_ratio: 0.05}
generation: {max_new_tokens: 20}
methods:
  ga: {lr: 0.001, epochs: 2}
  crashy/lumoe: {lr: 0.001, epochs: 5}
"""


def _requests(results: dict, method: str) -> list[dict]:
    return results["tasks"]["lifelong-tiny"]["seeds"]["0"]["methods"][method]["requests"]


def _run(run_dir: Path, folder: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE / "helpers" / "crashing_run.py"), str(run_dir), str(folder),
                           "--lifelong", *extra], env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=600)


def test_a_lifelong_run_killed_mid_way_resumes_to_identical_results(tmp_path):
    folder = tmp_path / "tasks"
    write(folder / "tiny.yaml", TINY)
    crashed = _run(tmp_path / "run", folder, env={"MU_TEST_CRASH_AT": "1"})
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    partial = json.loads((tmp_path / "run" / "results.json").read_text())
    assert partial["status"] == "running"
    assert len(_requests(partial, "ga")) == 3
    assert len(_requests(partial, "crashy/lumoe")) == 1  # request 0 saved, request 1 lost in the kill

    resumed = _run(tmp_path / "run", folder, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    clean = _run(tmp_path / "clean", folder)
    assert clean.returncode == 0, clean.stderr[-2000:]
    a = json.loads((tmp_path / "run" / "results.json").read_text())
    b = json.loads((tmp_path / "clean" / "results.json").read_text())
    assert a["status"] == "done" and len(a["resumed"]) == 1
    for method in ("ga", "crashy/lumoe"):
        ra, rb = _requests(a, method), _requests(b, method)
        assert len(ra) == 3
        assert [r["metrics"] for r in ra] == [r["metrics"] for r in rb]  # NLLs included: same weights

    # the matrix: every request's forget set is evaluated after every request
    task = b["tasks"]["lifelong-tiny"]
    names = [r["name"] for r in task["requests"]]
    for rec in _requests(b, "ga"):
        assert {f"forget_{n}" for n in names} | {f"retain_{n}" for n in names} | {"general"} <= set(rec["metrics"])
        assert set(rec["metrics"]["forget_0"]["by_form"]) == {"multimodal", "text"}

    # what the papers report, on this tiny world
    original = task["seeds"]["0"]["original"]["summary"]
    ga_last, lumoe_last = _requests(b, "ga")[-1]["summary"], _requests(b, "crashy/lumoe")[-1]["summary"]
    assert original["forget_accuracy"] > 0.8 and original["retain_accuracy"] > 0.8
    assert ga_last["retain_accuracy"] < 0.5 * original["retain_accuracy"]  # GA's damage accumulates
    assert lumoe_last["forget_accuracy"] < 0.6 * original["forget_accuracy"]
    assert lumoe_last["retain_accuracy"] > original["retain_accuracy"] - 0.1
    answers = tmp_path / "clean" / "answers" / "lifelong-tiny" / "seed0" / "ga" / "request2.jsonl"
    rows = [json.loads(line) for line in answers.read_text().splitlines()]
    # every answer carries its grade and the rule that gave it; a forget set is graded for forget only
    forget_row = next(r for r in rows if r["set"].startswith("forget_"))
    retain_row = next(r for r in rows if r["set"].startswith("retain_"))
    assert forget_row["forget"] in (0, 1, 2) and forget_row["utility"] is None and forget_row["rule"]
    assert retain_row["utility"] in (0, 1, 2) and retain_row["forget"] is None and retain_row["rule"]
    shown = run_cli("report", str(tmp_path / "clean"), "--answers", "--sample", "2")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "== lifelong-tiny / seed0 / ga / request 2" in shown.stdout
    assert "forget sets: forget quality" in shown.stdout and "utility sets: utility" in shown.stdout
    assert f"-> forget {forget_row['forget']}" in shown.stdout or "-> forget" in shown.stdout
    assert (tmp_path / "clean" / "answers.html").read_text().count("<tr>") > 10
    assert "task X (columns) after unlearning Y" in (tmp_path / "clean" / "results.md").read_text()
    plots = {p.name for p in (tmp_path / "clean" / "plots").iterdir()}
    assert {"lifelong-tiny-requests.png", "lifelong-tiny-kept.png", "lifelong-tiny-matrix-ga.png"} <= plots
