"""The run record: results.json and results.md written atomically, failures with their tracebacks,
checkpoints. Protocols write through it; the runner creates and resumes it."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from mu_registry.config.run import RunConfig
from mu_registry.registry.task_index import LoadedTask
from mu_registry.report.tables import render_tables
from mu_registry.training.loop import Diverged
from mu_registry.util.atomic import atomic_torch_save, atomic_write_json, atomic_write_text
from mu_registry.util.environment import describe_environment
from mu_registry.util.errors import MuError

log = logging.getLogger("mu_registry")
SCHEMA_VERSION = 1


class RunRecord:
    """``results`` (the results document) and the folder it lives in."""

    def __init__(self, run_dir: Path, config: RunConfig, plugins: dict[str, Any], *,
                 previous: dict[str, Any] | None = None):
        self.run_dir = Path(run_dir)
        self.config = config
        self.resuming = previous is not None
        self.results: dict[str, Any] = previous or {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_dir.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": asdict(config),
            "environment": describe_environment(),
            "plugins": plugins,
            "tasks": {},
            "status": "running",
        }

    def save(self) -> None:
        try:
            atomic_write_json(self.run_dir / "results.json", self.results)
            atomic_write_text(self.run_dir / "results.md", render_tables(self.results, run_dir=self.run_dir))
        except OSError as exc:
            what = "--resume" if self.resuming else "--output"
            raise MuError(f"{what} {self.config.output if not self.resuming else self.run_dir}: cannot write "
                          f"{self.run_dir / 'results.json'}: {exc.strerror or one_line(exc)}") from None

    def task(self, loaded: LoadedTask, fingerprint: str) -> dict[str, Any]:
        """The task's record; on resume, its data must be what the run started with."""
        rec = self.results["tasks"].setdefault(loaded.name, {})
        old = rec.get("data_fingerprint")
        if self.resuming and old and old != fingerprint:
            raise MuError(f"cannot resume {self.run_dir}: the data of task '{loaded.name}' ({loaded.path}) changed "
                          f"since the run started (fingerprint {old}, now {fingerprint}); start a new run")
        return rec

    def record_failure(self, rec: dict[str, Any], what: str, request: int | None, exc: BaseException) -> None:
        """Mark ``rec`` failed with the exception's one-line summary; the traceback goes to the run's
        errors.log. The requests recorded before stay, with the checkpoint of the last one."""
        summary = failure_summary(exc)
        rec.update({"status": "failed", "error": summary, "failed_request": request})
        log_path = self.run_dir / "errors.log"
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a", encoding="utf-8") as fh:
                at = f" request {request}" if request is not None else ""
                fh.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {what}{at}: {summary}\n")
                fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + "\n")
        except OSError:
            pass  # the summary is in results.json either way
        at = f" at request {request}" if request is not None else ""
        log.warning("%s failed%s: %s (traceback in %s); the others go on", what, at, summary, log_path)
        self.save()

    def checkpoint_path(self, task: str, seed: int, method_name: str) -> Path:
        return self.run_dir / "checkpoints" / task / f"seed{seed}" / f"{method_name}.pt"

    def save_checkpoint(self, state: dict[str, Any], path: Path) -> None:
        """Write a checkpoint; a full disk or a read-only folder is one line naming the file."""
        try:
            atomic_torch_save(state, path)
        except (OSError, RuntimeError) as exc:
            raise MuError(f"cannot write checkpoint {path}: {one_line(exc)}; the requests recorded so far are "
                          f"intact (free space, then resume with: mu-eval run --resume {self.run_dir})") from None

    def failures(self) -> list[str]:
        """'task/seedN/method: error' for every failed record of this run."""
        return failures(self.results)


def read_checkpoint(path: Path, start_at: int, what: str) -> dict[str, Any]:
    """The checkpoint a resumed method continues from; it must be the one for the last recorded request."""
    if not path.exists():
        raise MuError(f"cannot resume {what}: checkpoint {path} is missing")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["request"] != start_at - 1:
        raise MuError(f"cannot resume {what}: checkpoint is for request {state['request']}, "
                      f"results end at {start_at - 1}")
    return state


class MetricFailed(Exception):
    """A metric raised; the record of the model it measured is marked failed."""

    def __init__(self, name: str, exc: BaseException):
        super().__init__(f"metric '{name}' raised {type(exc).__name__}: {one_line(exc)}")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "") if text else type(exc).__name__


def failure_summary(exc: BaseException) -> str:
    """The one line recorded for a failure: ``diverged at epoch E step S`` or ``Type: message``."""
    if isinstance(exc, (Diverged, MetricFailed)):
        return str(exc)
    return f"{type(exc).__name__}: {one_line(exc)}"


def reset_failed(results: dict[str, Any]) -> None:
    """Failed records go back to pending: they continue from their last finished request."""
    for task in results.get("tasks", {}).values():
        for seed_rec in task.get("seeds", {}).values():
            if seed_rec.get("status") == "failed":
                for key in ("status", "error", "failed_request"):
                    seed_rec.pop(key, None)
            for rec in seed_rec.get("methods", {}).values():
                if rec.get("status") == "failed":
                    rec["status"] = "running" if rec.get("requests") else "pending"
                    rec.pop("error", None)
                    rec.pop("failed_request", None)


def failures(results: dict[str, Any]) -> list[str]:
    out = []
    for task_name, task in results.get("tasks", {}).items():
        for seed, seed_rec in task.get("seeds", {}).items():
            if seed_rec.get("status") == "failed":
                out.append(f"{task_name}/seed{seed}: {seed_rec.get('error')}")
            for method, rec in seed_rec.get("methods", {}).items():
                if rec.get("status") == "failed":
                    out.append(f"{task_name}/seed{seed}/{method}: {rec.get('error')}")
    return out
