"""Running tasks end to end: results file, caching, resuming after a hard kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import HERE, run_cli, write

from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner

SEQ_TASK = """\
task: seq3
dataset: {builder: digits, max_examples: {train: 300, test: 100}}
columns: {inputs: [image], label: label}
modality: image
model: {name: mlp, args: {hidden: [32]}, train: {epochs: 10, batch_size: 32, lr: 0.005}}
forget: {strategy: random, ratio: 0.15, seed: 2}
requests: {count: 3}
methods: {ga: {lr: 0.001}}
"""


def _final(results: dict, task: str, method: str) -> list[dict]:
    return results["tasks"][task]["seeds"]["0"]["methods"][method]["requests"]


def test_cli_runs_a_third_party_task_with_its_method(example_site, tmp_path):
    res = run_cli("run", "--tasks", "example-group", "--output", str(tmp_path / "out"), sites=(example_site,))
    assert res.returncode == 0, res.stderr
    assert "example-digits" in res.stdout and "example/ascent_descent" in res.stdout
    (run_dir,) = (tmp_path / "out").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "done" and results["schema_version"] == 1
    assert results["config"]["tasks"] == ["example-group"] and results["config"]["seeds"] == [0]
    assert "torch" in results["environment"]["packages"] and results["environment"]["git"]
    assert results["plugins"]["example"]["version"] == "0.3.1"
    task = results["tasks"]["example-digits"]
    assert len(task["content_hash"]) == 16 and task["plugin"] == "example"
    assert task["sizes"]["requests"] == [20, 20]
    reqs = _final(results, "example-digits", "example/ascent_descent")
    assert [r["index"] for r in reqs] == [0, 1]
    m = reqs[1]["metrics"]
    assert set(m["accuracy"]) == {"forget", "retain", "test", "forget_0", "forget_1"}
    assert abs(m["example/forget_error"] - (1 - m["accuracy"]["forget"])) < 1e-9
    assert reqs[1]["time_s"] > 0 and reqs[1]["speedup_vs_retrain"] > 0
    assert (run_dir / "results.md").read_text().startswith("example-digits")


def test_second_run_reuses_cached_original_and_retrain(example_site, tmp_path):
    for i in range(2):  # the first trains with one CPU thread, the second runs with two
        res = run_cli("run", "--tasks", "example-digits", "--output", str(tmp_path / f"o{i}"), sites=(example_site,),
                      env={"OMP_NUM_THREADS": str(i + 1)})
        assert res.returncode == 0, res.stderr
    first, second = (json.loads(next((tmp_path / f"o{i}").iterdir()).joinpath("results.json").read_text())
                     for i in range(2))
    s1, s2 = first["tasks"]["example-digits"]["seeds"]["0"], second["tasks"]["example-digits"]["seeds"]["0"]
    assert not s1["original"]["cached"] and s2["original"]["cached"]
    assert all(r["cached"] for r in s2["retrain"]["requests"])
    assert s1["original"]["cache_key"] == s2["original"]["cache_key"]
    # the thread count the references were trained with is recorded, also when they come from the cache
    assert second["environment"]["torch_threads"] == 2
    assert s1["original"]["train_threads"] == s2["original"]["train_threads"] == 1
    assert s2["retrain"]["requests"][0]["train_threads"] == 1
    assert s1["original"]["requests"] == s2["original"]["requests"]  # same model, same numbers


def test_a_run_killed_mid_way_resumes_to_identical_results(tmp_path):
    folder = tmp_path / "tasks"
    write(folder / "seq3.yaml", SEQ_TASK)
    helper = str(HERE / "helpers" / "crashing_run.py")
    env = {**os.environ, "MU_TEST_CRASH_AT": "1"}
    crashed = subprocess.run([sys.executable, helper, str(tmp_path / "run"), str(folder)], env=env,
                             capture_output=True, text=True, timeout=300)
    assert crashed.returncode == 137, crashed.stderr
    partial = json.loads((tmp_path / "run" / "results.json").read_text())
    assert partial["status"] == "running"
    assert len(_final(partial, "seq3", "crashy/ga")) == 1  # request 0 saved, request 1 lost

    resumed = subprocess.run([sys.executable, helper, str(tmp_path / "run"), str(folder), "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    clean = subprocess.run([sys.executable, helper, str(tmp_path / "clean"), str(folder)],
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    a = json.loads((tmp_path / "run" / "results.json").read_text())
    b = json.loads((tmp_path / "clean" / "results.json").read_text())
    assert a["status"] == "done" and len(a["resumed"]) == 1
    for method in ("crashy/ga", "finetune"):
        ra, rb = _final(a, "seq3", method), _final(b, "seq3", method)
        assert [r["metrics"] for r in ra] == [r["metrics"] for r in rb]
        assert len(ra) == 3


def test_default_methods_move_forget_accuracy_toward_retrain(tmp_path):
    """On class-wise forgetting every default method moves forget accuracy well toward the retrain model's."""
    results = Runner(RunConfig(tasks=["digits-class"]), Registry(), run_dir=tmp_path / "run").run()
    seed = results["tasks"]["digits-class"]["seeds"]["0"]
    original = seed["original"]["requests"][0]["metrics"]["accuracy"]["forget"]
    retrain = seed["retrain"]["requests"][0]["metrics"]["accuracy"]["forget"]
    assert original > 0.9 and retrain < 0.05
    for name, rec in seed["methods"].items():
        forget = rec["requests"][0]["metrics"]["accuracy"]["forget"]
        assert abs(forget - retrain) < abs(original - retrain) - 0.1, (name, forget)
        assert rec["requests"][0]["metrics"]["accuracy"]["test"] > 0.6, name


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    cases = [
        (["run", "--tasks", "fashion-mnist-randm"], "unknown task 'fashion-mnist-randm' (did you mean"),
        (["run", "--tasks", "digits-class", "--methods", "neggrd"], "--methods: unknown method 'neggrd'"),
        (["run", "--tasks", "digits-class", "--method-args", "ga.lrr=1"], "unknown parameter 'lrr'"),
        (["run", "--tasks", "digits-class", "--model", "resnet"], "--model: unknown model 'resnet'"),
        (["run", "--resume", str(tmp_path)], "no results.json"),
        (["run", "--tasks", "digits-class", "--set", "forget.ratio=2"],
         "digits-class.yaml (with --set): forget.ratio: Input should be less than or equal to 1"),
        (["run", "--tasks", "digits-class", "--set", "model.trian.epochs=1"], "(with --set): model.trian: unknown key"),
        (["run", "--tasks", "digits-class", "--set", "forget.ratio"], "--set 'forget.ratio': expected KEY=VALUE"),
    ]
    for args, expected in cases:
        res = run_cli(*args, "--output", str(tmp_path / "o")) if args[1] != "--resume" else run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mu-eval: error: ") and expected in lines[0], lines


def test_a_bad_method_parameter_fails_before_any_training(tmp_path):
    result = run_cli("run", "--tasks", "mlubench-mini", "--methods", "lumoe", "--method-args", "lumoe.loss=xyz",
                     "--output", str(tmp_path / "out"), env={"MU_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mu-eval: error: method 'lumoe': loss must be one of refusal, npo, gd, ga, idk, got 'xyz'"]
    assert not (tmp_path / "cache" / "models").exists()  # nothing was trained
