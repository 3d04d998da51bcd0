"""`mu-eval compare RUN_A RUN_B`: every number against a reference run, within a stated tolerance that the
reference's seeds can widen; differing machines said first."""

from __future__ import annotations

import json

from mu_registry.report.compare import compare, render


def _run(values_by_seed: dict[str, float], *, method: str = "ga", threads: int = 2, torch: str = "2.13.0+cpu"):
    seeds = {seed: {"original": {"requests": [{"index": 0, "metrics": {"accuracy": {"forget": 0.9}}}]},
                    "methods": {method: {"status": "done", "time_s": 1.0 + float(seed),
                                         "requests": [{"index": 0, "time_s": 3.0,
                                                       "metrics": {"accuracy": {"forget": v, "test": 0.8}}}]}}}
             for seed, v in values_by_seed.items()}
    return {"environment": {"platform": "Linux-x86_64", "torch_threads": threads, "cuda": False, "python": "3.11",
                            "packages": {"torch": torch}},
            "tasks": {"digits-class": {"seeds": seeds}}}


def test_identical_runs_are_identical_and_times_are_not_compared():
    a, b = _run({"0": 0.5}), _run({"0": 0.5})
    b["tasks"]["digits-class"]["seeds"]["0"]["methods"]["ga"]["time_s"] = 99.0
    result = compare(a, b)
    assert result.ok and result.compared == result.identical == 3 and result.environment == []
    assert "identical numbers are expected" in render(result, "A", "B")


def test_a_difference_beyond_the_tolerance_is_named_with_both_values():
    result = compare(_run({"0": 0.50}), _run({"0": 0.58}), tolerance=0.05)
    assert not result.ok
    (d,) = result.beyond
    assert d.where == "digits-class/ga/request 0/metrics/accuracy/forget" and (d.a, d.b) == (0.5, 0.58)
    text = render(result, "A", "B")
    assert "digits-class/ga/request 0/metrics/accuracy/forget: 0.5 vs 0.58 (|Δ| 0.08 > 0.05)" in text
    assert text.endswith("NOT within tolerance")
    assert compare(_run({"0": 0.50}), _run({"0": 0.58}), tolerance=0.1).ok


def test_the_reference_seeds_spread_widens_the_tolerance():
    a = _run({"0": 0.5, "1": 0.6, "2": 0.7})  # mean 0.6, sd 0.1: 3 sd = 0.3
    assert compare(a, _run({"0": 0.85}), tolerance=0.0).ok
    far = compare(a, _run({"0": 0.95}), tolerance=0.0)
    assert [round(d.allowed, 9) for d in far.beyond] == [0.3] and far.seeds_a == 3


def test_different_machines_are_said_first():
    result = compare(_run({"0": 0.5}, threads=2), _run({"0": 0.5}, threads=16, torch="2.13.0+cu128"))
    first = render(result, "A", "B").splitlines()[0]
    assert first.startswith("environments differ") and "torch_threads: 2 vs 16" in first and "torch 2.13.0+cpu" in first


def test_a_run_recorded_under_an_old_method_name_compares_with_the_new_name():
    old, new = _run({"0": 0.5}, method="neggrad"), _run({"0": 0.5}, method="ga")
    assert not compare(old, new).ok  # two different names
    assert compare(old, new, renames={"neggrad": "ga"}).ok


def test_the_command_exits_1_beyond_the_tolerance(tmp_path, mu, capsys):
    for name, value in (("a", 0.5), ("b", 0.5), ("c", 0.9)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_run({"0": value})))
    assert mu("compare", str(tmp_path / "a"), str(tmp_path / "b"))[0] == 0
    assert mu("compare", str(tmp_path / "a"), str(tmp_path / "c"))[0] == 1
    code, err = mu("compare", str(tmp_path / "a"), str(tmp_path / "missing"))
    assert code != 0 and err == [f"mu-eval: error: {tmp_path / 'missing'}: no results.json (give a run folder or its "
                                 f"results.json)"]
