"""Every missing piece of every requested task named in one message during planning, and no run folder for a
run that never started (issue 31, item 3)."""

from __future__ import annotations

from conftest import run_cli

OFFLINE = {"HF_HUB_OFFLINE": "1"}


def test_every_missing_piece_of_every_task_in_one_message_and_no_run_folder(tmp_path):
    out = tmp_path / "runs"
    proc = run_cli("run", "--tasks", "mlubench,pulse,mubench-imdb", "--output", str(out),
                   env={**OFFLINE, "MU_DATA_DIR": str(tmp_path / "data"), "OPENAI_API_KEY": ""})
    assert proc.returncode == 2, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("mu-eval: error:")]
    pieces = line.split("; and ")
    assert "MLUBench release folder" in pieces[0] and "mu-eval data get mlubench" in pieces[0]
    assert any("mllmu_bench (PULSE's data): Hugging Face dataset 'MLLMMU/MLLMU-Bench' is not cached here and "
               "HF_HUB_OFFLINE is set; get it with `mu-eval data get pulse`" in p for p in pieces)
    assert any("mubench-imdb.yaml: dataset.path: Hugging Face dataset 'stanfordnlp/imdb'" in p for p in pieces)
    assert any("model: args.pretrained: Hugging Face model 'google-bert/bert-base-uncased'" in p for p in pieces)
    assert any("judge openai_compatible" in p and "no endpoint configured" in p for p in pieces)
    assert not out.exists()


def test_a_task_whose_data_fails_after_planning_leaves_no_run_folder(tmp_path):
    out = tmp_path / "runs"
    proc = run_cli("run", "--tasks", "digits-class", "--set", "forget.classes=[11]", "--output", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("forget.classes: class(es) [11] do not occur in the "
                                                         "training split")
    assert "resume" not in proc.stderr and not out.exists()


def test_an_existing_output_folder_is_kept_when_nothing_is_recorded(tmp_path):
    out = tmp_path / "runs"
    (out / "earlier-run").mkdir(parents=True)
    proc = run_cli("run", "--tasks", "digits-class", "--set", "forget.classes=[11]", "--output", str(out))
    assert proc.returncode == 2 and sorted(p.name for p in out.iterdir()) == ["earlier-run"]


def test_list_tasks_says_what_each_task_needs():
    proc = run_cli("list", "tasks")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert proc.stdout.splitlines()[0].split()[:3] == ["task", "modality", "needs"]
    offline_tasks = ("digits-class", "fashion-mnist-random", "mubench-mini-text", "mlubench-mini",
                     "pulse-mini-pretrained")
    for offline in offline_tasks:
        assert rows[offline].split()[2] == "offline", rows[offline]
    assert "data get mlubench" in rows["mlubench"] and "judge endpoint" in rows["mlubench"]
    assert "network (dataset), network (model)" in rows["mubench-imdb"]
    assert "data get pulse" in rows["pulse-pretrained"]
    assert "``" not in proc.stdout  # descriptions without reST markup


def test_list_tasks_long_shows_the_measured_time_of_each_task():
    import json

    from conftest import REPO
    from mu_registry.util.progress import duration

    times = json.loads((REPO / "tasks" / "expected_times.json").read_text())
    assert {"digits-class", "fashion-mnist-random", "mlubench-mini"} <= set(times)
    proc = run_cli("list", "tasks", "--long")
    assert proc.returncode == 0, proc.stderr
    assert "time (cold cache)" in proc.stdout.splitlines()[0]
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    for task, figure in times.items():
        assert f"{duration(figure['wall_s'])} ({figure['cores']} cores, load {figure['load_before']:.1f})" \
            in rows[task], task
    assert " - " in rows["mlubench"]  # never measured: it needs the network


def test_the_readme_times_are_the_measured_ones():
    """The README's table is tasks/expected_times.json, which benchmarks/task_times.py writes."""
    import json

    from conftest import REPO

    times = json.loads((REPO / "tasks" / "expected_times.json").read_text())
    readme = (REPO / "README.md").read_text()
    for task, figure in times.items():
        assert f"| `{task}` | " in readme and f"({figure['wall_s']} s) | {figure['load_before']} |" in readme, task
