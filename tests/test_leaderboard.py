"""`mu-eval leaderboard`: shipped reference data, runs of stand-ins, a plugin's method, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli, write

from mu_registry.papers.leaderboard import find_run, metric_value
from mu_registry.papers.published import load_published, shipped_suites
from mu_registry.registry.manager import Registry
from mu_registry.registry.task_index import TaskIndex

TOY = """
suite: toy
title: A toy suite for the test
sources:
  tab1: {cite: "A paper, Table 1"}
show: [metrics.accuracy.forget, metrics.accuracy.test]
configs:
  - name: digits (stand-in for CIFAR-100)
    task: mubench-cifar100
    set: {model.args.pretrained: microsoft/resnet-50}
    stand_in: {task: digits-random, set: {model.train.epochs: 8}}
    methods: [ga]
    reference:
      original:
        metrics.accuracy.test: {value: 0.5, source: tab1, where: "row 1"}
      ga:
        metrics.accuracy.forget: {value: 0.25, source: tab1, where: "row 2"}
"""


def test_shipped_suites_load_and_name_tasks_that_exist():
    assert shipped_suites() == ["mlubench", "mubench", "pulse"]
    index = TaskIndex(Registry())
    for name in shipped_suites():
        suite = load_published(name)
        assert suite.configs and suite.show
        for config in suite.configs:
            assert config.task in index.tasks, (name, config.task)
            assert config.stand_in and config.stand_in.task in index.tasks, (name, config.name)
    mubench = load_published("mubench")
    values = [(c.name, p, v) for c in mubench.configs for m in c.reference.values() for p, v in m.items()]
    assert len(values) >= 20 and all(v.where and v.source == "orig_acc" for _, _, v in values)
    vit = next(c for c in mubench.configs if c.name == "cifar100 / vit-base")
    assert vit.reference["original"]["metrics.accuracy.test"].value == 0.922


def test_leaderboard_runs_the_stand_in_with_a_plugin_method_and_reads_results_back(tmp_path, example_site):
    ref = write(tmp_path / "toy.yaml", TOY)
    out = tmp_path / "lb"
    proc = run_cli("leaderboard", "--reference", str(ref), "--stand-in", "--methods", "example/ascent_descent",
                   "--limit", "300", "--output", str(out), sites=(example_site,))
    assert proc.returncode == 0, proc.stderr
    assert "STAND-IN: run on the offline task digits-random instead of mubench-cifar100" in proc.stdout
    for method in ("original", "retrain", "ga", "example/ascent_descent"):
        assert f"\n{method} " in proc.stdout, method

    board = json.loads((out / "toy.json").read_text())
    table = board["configs"][0]
    assert table["stand_in_task"] == "digits-random"
    run = json.loads((Path(table["run_dir"]) / "results.json").read_text())
    seed = run["tasks"]["digits-random"]["seeds"]["0"]
    cells = {(r["method"], r["metric"]): r for r in table["rows"]}
    test_acc = seed["original"]["requests"][-1]["metrics"]["accuracy"]["test"]
    orig = cells[("original", "metrics.accuracy.test")]
    assert orig["ours"] == test_acc and orig["reference"] == 0.5
    assert abs(orig["diff"] - (test_acc - 0.5)) < 1e-12 and orig["where"] == "row 1"
    plugin = cells[("example/ascent_descent", "metrics.accuracy.forget")]
    assert plugin["ours"] == seed["methods"]["example/ascent_descent"]["requests"][-1]["metrics"]["accuracy"]["forget"]
    assert plugin["reference"] is None
    assert f"(ref 0.500, Δ {test_acc - 0.5:+.3f})" in proc.stdout

    md = (out / "toy.md").read_text()
    assert "| example/ascent_descent |" in md and "STAND-IN" in md and "A paper, Table 1" in md
    page = (out / "toy.html").read_text()
    assert page.startswith("<!doctype html>") and "class='standin'" in page and "example/ascent_descent" in page

    again = run_cli("leaderboard", "--reference", str(ref), "--results", str(out / "runs"),
                    "--output", str(tmp_path / "again"), sites=(example_site,))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "toy.json").read_text())["configs"][0]["rows"] == table["rows"]


def test_a_bad_reference_file_is_one_line_naming_file_and_field(tmp_path):
    bad = write(tmp_path / "bad.yaml", TOY.replace("source: tab1, where: \"row 2\"", "source: nope"))
    proc = run_cli("leaderboard", "--reference", str(bad), "--results", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "bad.yaml" in proc.stderr and "source 'nope' is not in sources" in proc.stderr
    proc = run_cli("leaderboard", "--suite", "nosuch", "--results", str(tmp_path))
    assert proc.returncode == 2 and "no reference suite 'nosuch' (shipped: mlubench, mubench, pulse)" in proc.stderr


def test_metric_paths_pick_requests_and_runs_match_the_keys_a_config_sets(tmp_path):
    record = {"requests": [{"index": 0, "summary": {"forget_accuracy": 0.4}},
                           {"index": 1, "summary": {"forget_accuracy": 0.1}}]}
    assert metric_value(record, "summary.forget_accuracy") == 0.1
    assert metric_value(record, "summary.forget_accuracy@0") == 0.4
    assert metric_value({"summary": {"retain_accuracy": 0.9}}, "summary.retain_accuracy@3") == 0.9
    assert metric_value(record, "summary.missing") is None

    suite = load_published(write(tmp_path / "toy.yaml", TOY))
    config = suite.configs[0]

    def run(task, pretrained, created):
        cfg = {"model": {"args": {"pretrained": pretrained}, "train": {"epochs": 8}}}
        return (tmp_path / created, {"created": created, "tasks": {task: {"config": cfg, "seeds": {"0": {}}}}})

    stand_in = run("digits-random", None, "2026-01-03")
    other_model = run("mubench-cifar100", "google/vit-base-patch16-224-in21k", "2026-01-02")
    real = run("mubench-cifar100", "microsoft/resnet-50", "2026-01-01")
    assert find_run(config, [stand_in, other_model]).stand_in
    found = find_run(config, [stand_in, other_model, real])
    assert not found.stand_in and found.run_dir == tmp_path / "2026-01-01"
    assert find_run(config, [stand_in, real], allow_real=False).stand_in


# --- MLUBench's draft-appendix numbers ---------------------------------------------------------

PUBLISHED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published-numbers.md"
METHODS = {"GA": "ga", "KL": "ga_klr", "GD": "graddiff", "NPO": "npo", "LUMoE": "lumoe", "PO": "po"}


def _published_tables() -> dict[int, tuple[str, list[str], dict[str, dict[str, float]]]]:
    """The markdown file's tables: number -> (title, request columns, {task row: {request: value}})."""
    import re

    tables = {}
    for m in re.finditer(r"^Table (\d+) — (.+?)\n(\|.+?)(?:\n\n|\Z)", PUBLISHED.read_text(), re.S | re.M):
        lines = m.group(3).strip().splitlines()
        columns = [c.strip().removeprefix("Unlearn ") for c in lines[0].strip("|").split("|")][1:]
        rows = {}
        for line in lines[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = {columns[j]: float(v) for j, v in enumerate(cells[1:]) if v}
        tables[int(m.group(1))] = (m.group(2), columns, rows)
    return tables


def test_mlubench_reference_holds_every_draft_appendix_number_of_the_shared_file():
    if not PUBLISHED.exists():
        pytest.skip("../shared/reference/published-numbers.md is not beside the project")
    suite = load_published("mlubench")
    configs = {"G": "LLaVA-1.5-13B, requests A-D (draft appendix G)", "H": "5 requests A-E (draft appendix H)",
               20: "PO, requests A-D (draft appendix F)", 21: "PO, requests in the order C, A, B, D (draft appendix F)"}
    by_name = {c.name: c for c in suite.configs}
    tables = _published_tables()
    assert sorted(tables) == list(range(20, 42))
    checked = 0
    for number, (title, columns, rows) in tables.items():
        config = by_name[configs[number] if number in (20, 21) else configs["G" if number <= 31 else "H"]]
        method = METHODS[title.split(",")[0]]
        forget = "Forget Quality" in title
        for task, values in rows.items():
            for request, value in values.items():
                path = (f"metrics.forget_{task}.forget_quality@{columns.index(request)}" if forget
                        else f"metrics.retain_{task}.utility@{columns.index(request)}")
                ref = config.reference[method][path]
                assert ref.value == value, (number, task, request)
                assert ref.where == f"Table {number}, row {task}, column Unlearn {request}"
                assert "draft appendix" in suite.sources[ref.source].cite
                checked += 1
    assert checked == 270 == sum(len(m) for c in suite.configs for m in c.reference.values())
    g = by_name[configs["G"]]
    assert g.set == {"model.args.pretrained": "llava-hf/llava-1.5-13b-hf"} and "draft appendix" in g.note
    # a few by hand: Table 22 (GA) A after D; Table 41 (LUMoE utility) E after E; Table 21 (PO) C after A
    assert g.reference["ga"]["metrics.forget_A.forget_quality@3"].value == 0.015
    assert by_name[configs["H"]].reference["lumoe"]["metrics.retain_E.utility@4"].value == 0.97
    assert by_name[configs[21]].reference["po"]["metrics.forget_C.forget_quality@1"].value == 0.98


def test_leaderboard_prints_mlubench_draft_numbers_beside_a_stand_in_run_with_its_judge(tmp_path):
    def request(i):
        metrics = {f"forget_{k}": {"forget_quality": 0.1 * (k + 1)} for k in range(i + 1)}
        metrics.update({f"retain_{k}": {"utility": 0.5} for k in range(4)})
        return {"index": i, "name": str(i), "metrics": metrics, "summary": {"forget_quality": 0.2}}

    task = {"config": {"model": {"args": {}}}, "judge": {"name": "rule", "kind": "rule"},
            "seeds": {"0": {"original": {"summary": {}},
                            "methods": {"ga": {"requests": [request(i) for i in range(4)]}}}}}
    write(tmp_path / "run" / "results.json", json.dumps({"created": "2026-01-01", "tasks": {"mlubench-mini": task}}))
    proc = run_cli("leaderboard", "--suite", "mlubench", "--results", str(tmp_path / "run"), "--configs", "13B",
                   "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "STAND-IN: run on the offline task mlubench-mini instead of mlubench" in out
    assert "judged by rule" in out and "draft appendix G" in out
    line = next(x for x in out.splitlines() if x.startswith("forget_A.forget_quality @3"))
    # the stand-in's request 0 is the real task's A: 0.100 against Table 22's 0.015
    assert "0.100 (ref 0.015, Δ +0.085)" in line
    line = next(x for x in out.splitlines() if x.startswith("retain_D.utility @3"))
    assert "0.500 (ref 0.200, Δ +0.300)" in line


def test_every_stand_in_of_the_mlubench_suite_builds_with_the_request_names_it_maps_to():
    from mu_registry.data.generative import build_qa_task

    registry = Registry()
    for config in load_published("mlubench").configs:
        stand_in = config.stand_in
        loaded = TaskIndex(registry, [], stand_in.set).load(stand_in.task)
        names = [r.name for r in build_qa_task(loaded, registry).requests]
        assert sorted(names) == sorted(stand_in.names.values()), config.name
        if "order" in str(stand_in.set):
            assert names == ["2", "0", "1", "3"]  # C, A, B, D


def test_pulse_holds_only_the_secondary_numbers_the_shared_file_allows_marked_secondary():
    import re

    suite = load_published("pulse")
    values = [(c.name, m, p, v) for c in suite.configs for m, ms in c.reference.items() for p, v in ms.items()]
    assert len(values) == 12 and all(v.source == "digest" and v.note == "secondary source" for *_, v in values)
    assert suite.sources["digest"].cite.startswith("SECONDARY SOURCE")
    assert suite.sources["digest"].commit == "9bd85de702fc0c583f3439d9e31d2d3c206e8293"
    if PUBLISHED.exists():  # every value is the digest's percentage, as the shared file quotes it
        text = PUBLISHED.read_text()
        rows = {r[0].strip(): [float(x) for x in r[1:4]]
                for r in (line.strip("|").split("|") for line in text[text.index("## PULSE"):].splitlines()
                          if re.match(r"^\| (before|projector|LLM only)", line))}
        assert rows == {"before unlearning": [78.0, 76.8, 75.1], "projector + LLM, GA": [9.6, 35.2, 71.1],
                        "LLM only, GA": [24.8, 33.2, 48.8]}
        columns = ["summary.forget_accuracy_multimodal", "summary.forget_accuracy_text", "summary.mmbench"]
        for name, method, path, ref in values:
            row = "before unlearning" if method == "original" else (
                "LLM only, GA" if name.endswith("LLM only") else "projector + LLM, GA")
            assert abs(ref.value * 100 - rows[row][columns.index(path)]) < 1e-9, (name, method, path)
    registry = Registry()
    llm_only = next(c for c in suite.configs if c.name.endswith("LLM only"))
    loaded = TaskIndex(registry, [], llm_only.stand_in.set).load(llm_only.stand_in.task)
    cls = registry.method("ga", task_type="generation")
    assert cls.make_params(loaded.config.methods["ga"]).scope == "llm"


def test_lifelong_summary_has_pulse_per_form_forget_accuracy():
    from types import SimpleNamespace

    from mu_registry.protocols.lifelong import summarize

    data = SimpleNamespace(requests=[SimpleNamespace(name="0"), SimpleNamespace(name="1")])
    forms = {"by_form": {"multimodal": {"accuracy": 0.2}, "text": {"accuracy": 0.6}}}
    metrics = {"forget_0": {"accuracy": 0.4, **forms},
               "forget_1": {"accuracy": 0.5, "by_form": {"multimodal": {"accuracy": 0.4}, "text": {"accuracy": 0.6}}}}
    assert summarize(metrics, data, 0)["forget_accuracy_multimodal"] == 0.2
    out = summarize(metrics, data, 1)
    assert out["forget_accuracy_multimodal"] == pytest.approx(0.3) and out["forget_accuracy_text"] == pytest.approx(0.6)
