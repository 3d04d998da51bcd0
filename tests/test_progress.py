"""Progress off a terminal (``> log``, nohup, CI): a status line when a stage starts, one at most every
``$MU_PROGRESS_EVERY`` seconds while it runs (with an estimate of the time left), one when it ends."""

from __future__ import annotations

import logging

import mu_registry.util.progress as progress_module
from mu_registry.util.progress import StatusLines, duration, progress, stage


def test_off_a_terminal_a_stage_is_logged_as_lines(monkeypatch, caplog):
    monkeypatch.delenv("MU_PROGRESS", raising=False)
    monkeypatch.setenv("MU_PROGRESS_EVERY", "0")
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False, raising=False)
    caplog.set_level(logging.INFO, logger="mu_registry")
    with progress(total=3, desc="digits-class: original", unit="step") as bar:
        assert isinstance(bar, StatusLines)
        for _ in range(3):
            bar.update(1)
    stage("%s: request %d of %d", "ga", 2, 4)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "digits-class: original: started of 3 steps"
    assert lines[1].startswith("digits-class: original: 1/3 steps, 0 s, about 0 s left")
    assert lines[2].startswith("digits-class: original: 2/3 steps")
    assert lines[3].startswith("digits-class: original: done (3/3 steps in")
    assert lines[4] == "ga: request 2 of 4"


def test_status_lines_are_rate_limited_and_silenced(monkeypatch, caplog):
    monkeypatch.delenv("MU_PROGRESS", raising=False)
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False, raising=False)
    caplog.set_level(logging.INFO, logger="mu_registry")
    bar = progress(total=1000, desc="slow", unit="step", every=3600)
    for _ in range(999):
        bar.update(1)
    bar.close()
    assert [r.getMessage().split(":")[1].strip()[:4] for r in caplog.records] == ["star", "done"]
    caplog.clear()
    monkeypatch.setenv("MU_PROGRESS", "0")
    with progress(total=2, desc="quiet") as bar:
        bar.update(2)
    stage("nothing")
    assert caplog.records == []


def test_durations_read_as_a_person_would():
    assert duration(4.4) == "4 s" and duration(125) == "2 min 05 s" and duration(7322) == "2 h 02 min"


def test_a_run_with_stderr_in_a_file_logs_every_stage(tmp_path, monkeypatch):
    """Off a terminal (CI, nohup, `2> log`): the references, each method's requests, unlearning and evaluating."""
    from conftest import run_cli

    monkeypatch.delenv("MU_PROGRESS", raising=False)

    proc = run_cli("run", "--tasks", "digits-class", "--methods", "ga", "--limit", "120", "--output",
                   str(tmp_path / "o"), env={"MU_PROGRESS_EVERY": "0"})
    assert proc.returncode == 0, proc.stderr
    lines = [line.removeprefix("mu-eval: info: ") for line in proc.stderr.splitlines()]
    expected = ["digits-class: original: started of", "digits-class: references for request 1 of 1: retrain",
                "digits-class: retrain-0: started of", "digits-class: ga: started of 1 requests",
                "digits-class: ga: request 1 of 1: unlearning", "digits-class: ga: request 1 of 1: evaluating",
                "digits-class: ga: done (1/1 requests"]
    at = [next((i for i, line in enumerate(lines) if line.startswith(e)), None) for e in expected]
    assert None not in at and at == sorted(at), (at, lines)


def test_a_long_step_still_logs_a_line_at_least_every_interval(monkeypatch, caplog):
    """Inside one long step (no update for a while), the heartbeat says the run is working and since when."""
    import time

    monkeypatch.delenv("MU_PROGRESS", raising=False)
    monkeypatch.setenv("MU_PROGRESS_EVERY", "1")
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False, raising=False)
    caplog.set_level(logging.INFO, logger="mu_registry")
    try:
        stage("%s: evaluating", "mlubench-mini: ga: request 2 of 4")
        time.sleep(3.5)
    finally:
        progress_module.idle()
    beats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("working (last: ")]
    assert beats and beats[0].startswith("working (last: mlubench-mini: ga: request 2 of 4: evaluating, ")
    caplog.clear()
    time.sleep(2.5)  # idle: no more lines
    assert not [r for r in caplog.records if r.getMessage().startswith("working")]
