"""A run: tasks × methods × seeds, planned before anything trains, each task run by its protocol.

``Runner.plan`` checks every task, model, method and option first (one line naming what is wrong, before
any training); ``Runner.run`` then runs, for every task and seed, the protocol of the task's type
(``PROTOCOLS[task_type]``: classification, or the lifelong protocol for generation), which trains the
references and runs the shared request loop for each method. Results are written atomically after every
request, with a checkpoint, so a killed run resumes (``mu-eval run --resume DIR``) at the next request and
ends with the same numbers.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import torch

from mu_registry.config.run import RunConfig
from mu_registry.data.preflight import task_problems
from mu_registry.evaluation.judging import make_judge
from mu_registry.protocols.base import RunSetup, method_label, method_spec, request_loop
from mu_registry.protocols.model_cache import ModelCache
from mu_registry.protocols.record import RunRecord, failures, one_line, reset_failed
from mu_registry.registry.manager import Registry
from mu_registry.registry.task_index import LoadedTask, TaskIndex
from mu_registry.report.plots import write_plots
from mu_registry.util.environment import describe_environment
from mu_registry.util.errors import MuError
from mu_registry.util.progress import idle

log = logging.getLogger("mu_registry")

__all__ = ["RunConfig", "Runner", "check_writable", "new_run_id", "pick_device", "run_task"]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MuError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


def run_task(setup: RunSetup, record: RunRecord, loaded: LoadedTask, methods: list[str], seed: int) -> None:
    """One task and seed, by the protocol of its task type (``PROTOCOLS[task_type]``; see
    :mod:`mu_registry.protocols`): task -> data -> model -> references -> for each method, the requests in
    order (unlearn, evaluate, checkpoint, record)."""
    protocol = setup.registry.protocol(loaded.config.task_type, context=f"{loaded.path}: task_type")
    task = protocol(setup, record, loaded, seed)
    task.load_data()                   # the task's splits, forget sets and requests
    task.build_model()                 # the model plugin, checked before anything trains
    original = task.references()       # original (and retrain) trained or cached, evaluated, recorded
    for method in methods:             # each method over the requests: unlearn -> evaluate -> checkpoint -> record
        request_loop(task, task.method_run(method), method, original, task.seed_record)


class Runner:
    """Plans and runs tasks × methods × seeds into one run folder (``results.json``, ``results.md``,
    ``plots/``, ``checkpoints/``, ``errors.log``)."""

    def __init__(self, config: RunConfig, registry: Registry, *, run_dir: Path | None = None,
                 previous: dict[str, Any] | None = None):
        self.config = config
        self.registry = registry
        self.index = TaskIndex(registry, config.include_paths, config.task_overrides)
        self.setup = RunSetup(config=config, registry=registry, device=pick_device(config.device),
                              cache=ModelCache(enabled=config.use_cache))
        plugins = {n: {"distribution": p.distribution, "version": p.version, "status": p.status}
                   for n, p in registry.plugins.items()}
        self.record = RunRecord(run_dir or Path(config.output) / new_run_id(), config, plugins, previous=previous)
        self._output_existed = self.record.run_dir.parent.exists()

    @property
    def run_dir(self) -> Path:
        return self.record.run_dir

    @property
    def results(self) -> dict[str, Any]:
        return self.record.results

    @property
    def resuming(self) -> bool:
        return self.record.resuming

    @property
    def cache(self) -> ModelCache:
        return self.setup.cache

    @property
    def device(self) -> torch.device:
        return self.setup.device

    @classmethod
    def resume(cls, run_dir: Path, registry: Registry, *, retry_failed: bool = False) -> Runner:
        """Continue the run recorded in ``run_dir`` with its own configuration. Failed records are kept
        (and skipped) unless ``retry_failed``: then they continue from their last finished request."""
        results_file = Path(run_dir) / "results.json"
        if not results_file.exists():
            raise MuError(f"--resume {run_dir}: no results.json there")
        try:
            previous = json.loads(results_file.read_text())
            config = RunConfig(**previous["config"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MuError(f"{results_file}: not a mu-eval results file ({exc})") from None
        previous["status"] = "running"
        previous.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if retry_failed:
            reset_failed(previous)
        return cls(config, registry, run_dir=Path(run_dir), previous=previous)

    def check_resumable(self, plan: list[tuple[LoadedTask, list[str]]]) -> None:
        """Refuse to resume when anything that changes numbers differs from what the run recorded: a task
        file's content, a plugin's version, the torch version. One line names every difference."""
        prev = self.results
        diffs: list[str] = []
        recorded = {n: t.get("content_hash") for n, t in prev.get("tasks", {}).items()}
        recorded.update(prev.get("task_hashes", {}))
        for loaded, _ in plan:
            old = recorded.get(loaded.name)
            if old and old != loaded.hash:
                diffs.append(f"task '{loaded.name}' ({loaded.path}) changed since the run started "
                             f"(content hash {old}, now {loaded.hash})")
        for name, info in sorted(prev.get("plugins", {}).items()):
            now = self.registry.plugins.get(name)
            if info.get("status") != "loaded":
                continue
            if now is None or now.status != "loaded":
                diffs.append(f"plugin '{name}' ({info.get('distribution')} {info.get('version')}) is no longer loaded")
            elif now.version != info.get("version"):
                diffs.append(f"plugin '{name}' was version {info.get('version')}, now {now.version}")
        old_torch = prev.get("environment", {}).get("packages", {}).get("torch")
        new_torch = describe_environment()["packages"].get("torch")
        if old_torch and new_torch and old_torch != new_torch:
            diffs.append(f"torch was {old_torch}, now {new_torch}")
        if diffs:
            raise MuError(f"cannot resume {self.run_dir}: {'; '.join(diffs)} (results would mix two configurations: "
                          f"restore what changed, or start a new run)")

    # ------------------------------------------------------------ planning
    def _missing(self, loaded: LoadedTask) -> list[str]:
        """What a task needs that is not here, one line each: its data (a builder's ``preflight``, e.g.
        MLUBench's release folder and the command that fetches it; a Hugging Face dataset or model neither
        cached nor reachable) and, for a generative task, its judge (an LLM judge needs an endpoint)."""
        cfg = loaded.config
        model_name, model_args = self.setup.model_for(cfg)
        self.registry.model(model_name, context="--model" if self.config.model else f"{loaded.path}: model.name")
        problems = task_problems(loaded, self.registry, model_name, model_args)
        if cfg.task_type == "generation":
            try:
                make_judge(self.registry, cfg.generation.judge, cfg.generation.judge_args, str(loaded.path))
            except MuError as exc:
                problems.append(str(exc))
        return problems

    def plan(self) -> list[tuple[LoadedTask, list[str]]]:
        """Validate every task and method before any training starts: one line naming what is wrong."""
        reg, plan = self.registry, []
        tasks = [self.index.load(name) for name in self.index.expand(self.config.tasks)]
        planned_types = sorted({loaded.config.task_type for loaded in tasks})
        # missing data, models, a judge with no endpoint: every task's, in one message, before anything trains
        missing = [problem for loaded in tasks for problem in self._missing(loaded)]
        if missing:
            raise MuError("; and ".join(dict.fromkeys(missing)))
        for loaded in tasks:
            reg.protocol(loaded.config.task_type, context=f"{loaded.path}: task_type")
            self.index.check(loaded)
            model_name, model_args = self.setup.model_for(loaded.config)  # checked with the missing pieces above
            asked = self.config.methods if self.config.methods is not None else loaded.config.default_methods
            where = "--methods" if self.config.methods is not None else f"{loaded.path}: default_methods"
            if asked == ["all"]:  # every usable method for this task type (one a plugin broke is disabled)
                asked = [m for m in reg.names("methods") if reg.usable("methods", m)
                         and loaded.config.task_type in reg.method_task_types(m)]
            if not asked:
                raise MuError(f"{loaded.path}: no methods to run: pass --methods or set default_methods")
            methods = list(dict.fromkeys(method_label(reg, m, where, warn=True, loaded=loaded) for m in asked))
            plugin: Any = None
            for label in methods:
                canonical, from_yaml, overrides = method_spec(reg, loaded, label, self.config.method_args, warn=True)
                types = reg.method_task_types(canonical, context=where)
                if not set(types) & set(planned_types):
                    raise MuError(f"{where}: method '{label}' supports {', '.join(types)} tasks; the tasks planned "
                                  f"are {', '.join(planned_types)} (it would run on none of them)")
                if loaded.config.task_type not in types:
                    continue  # recorded as not applicable to this task
                cls = reg.method(canonical, context=where, task_type=loaded.config.task_type)
                # build each method once now, so a bad hyperparameter fails before any training
                cls.make_params(from_yaml, context=f"{loaded.path}: methods.{label}: ")  # names the file
                method = cls(cls.make_params(overrides, context=f"method '{label}': "), registry=reg)
                check = getattr(method, "check_model", None)  # a choice the model's shape bounds (RMU's layer)
                if check is not None:
                    try:
                        if plugin is None:
                            plugin = reg.model(model_name)(**model_args)
                        check(plugin)
                    except MuError as exc:
                        given = [k for k in self.config.method_args if method_label(reg, k, loaded=loaded) == label]
                        at = f"--method-args {given[0]}" if given else f"{loaded.path}: methods.{label}"
                        raise MuError(f"{at}: {exc}") from None
            plan.append((loaded, methods))
        planned = {m for _, methods in plan for m in methods}
        for m in self.config.method_args:
            if not any(method_label(reg, m, loaded=loaded) in methods for loaded, methods in plan):
                reg.method(m, context="--method-args")
                raise MuError(f"--method-args {m}.{next(iter(self.config.method_args[m]), '')}: method '{m}' is not "
                              f"run here (methods: {', '.join(sorted(planned))}); add it to --methods")
        if self.resuming:
            self.check_resumable(plan)
        hashes = self.results.setdefault("task_hashes", {})
        for loaded, _ in plan:
            hashes.setdefault(loaded.name, loaded.hash)
        self.results["plan"] = {loaded.name: methods for loaded, methods in plan}
        return plan

    # ------------------------------------------------------------ running
    def run(self) -> dict[str, Any]:
        plan = self.plan()
        if self.config.use_cache:
            check_writable(self.cache.root.parent, "MU_CACHE_DIR", "(or pass --no-cache)")
        _warm_up_lazy_imports()
        self.save()
        try:
            for loaded, methods in plan:
                for seed in self.config.seeds:
                    self._run_task_guarded(loaded, methods, seed)
        except BaseException:
            if not self.resuming and not self.results["tasks"]:
                self._discard()  # nothing started (the first task's data failed, Ctrl-C at once): no run folder
                raise
            # Ctrl-C, SIGTERM, a full disk: what is recorded stays, marked as not finished
            self.results["status"] = "interrupted"
            try:
                self.save()
            except (OSError, MuError):
                pass
            raise
        finally:
            idle()  # no heartbeat lines after the run
        self.results["status"] = "done"
        self.save()
        self.write_plots()
        return self.results

    def _discard(self) -> None:
        """Remove the folder of a run that recorded nothing (only the files this run wrote, then the folder
        if it is empty)."""
        for name in ("results.json", "results.md", "errors.log"):
            (self.run_dir / name).unlink(missing_ok=True)
        try:
            self.run_dir.rmdir()
            if not self._output_existed:
                self.run_dir.parent.rmdir()  # the --output folder this run created
        except OSError:
            pass  # something else is in it: leave it

    def _run_task_guarded(self, loaded: LoadedTask, methods: list[str], seed: int) -> None:
        """One task and seed; a failure outside any method (training a reference model, a reference's
        metric) is recorded for that task and seed, and the other tasks and seeds go on."""
        seed_rec = self.results["tasks"].get(loaded.name, {}).get("seeds", {}).get(str(seed), {})
        if seed_rec.get("status") == "failed":
            return  # recorded by an earlier attempt; --retry-failed resets it
        try:
            run_task(self.setup, self.record, loaded, methods, seed)
        except (MuError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one failed task never stops the others
            task_rec = self.results["tasks"].setdefault(loaded.name, {})
            seed_rec = task_rec.setdefault("seeds", {}).setdefault(str(seed), {"methods": {}})
            self.record.record_failure(seed_rec, f"{loaded.name}/seed{seed}", None, exc)

    def write_plots(self) -> list[Path]:
        """PNG plots under RUN_DIR/plots; a plotting failure costs a warning, never the results."""
        try:
            return write_plots(self.results, self.run_dir / "plots")
        except Exception as exc:  # noqa: BLE001 (matplotlib backends fail in many ways)
            log.warning("plots were not written: %s: %s", type(exc).__name__, exc)
            return []

    def save(self) -> None:
        self.record.save()

    def failures(self) -> list[str]:
        """'task/seedN/method: error' for every failed record of this run."""
        return failures(self.results)


def check_writable(folder: Path, what: str, hint: str = "") -> None:
    """A folder the run will write to must be writable: one line naming it, before any training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".mu-write-test-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise MuError(f"{what} {folder}: not writable ({exc.strerror or one_line(exc)}){' ' + hint if hint else ''}"
                      ) from None


def _warm_up_lazy_imports() -> None:
    """Build one throwaway optimizer: torch's first one imports torch._dynamo (~2 s on 2 cores),
    which would otherwise be charged to whichever method happens to run first."""
    for opt in (torch.optim.Adam, torch.optim.SGD, torch.optim.AdamW):
        opt([torch.zeros(1, requires_grad=True)], lr=0.1)
