"""Runs tasks × methods × seeds: train references, unlearn request by request, evaluate, record.

Results are written atomically after every request, with a checkpoint of the
unlearned model, so a killed run resumes (``mu-eval run --resume DIR``) at the
next request and ends with the same numbers.
"""

from __future__ import annotations

import copy
import logging
import math
import secrets
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_torch_save, atomic_write_json, atomic_write_text
from .data import Split, TaskData
from .engines.classify import evaluate_sets
from .environment import describe_environment
from .errors import MuError, NotApplicableError
from .method import Method, UnlearnContext
from .metric import MetricContext, SetOutputs
from .model import EncodedSplit, Model, TaskSpec
from .model_cache import ModelCache, model_identity
from .progress import progress
from .random_init import reinitialize
from .best_epoch import selector_for
from .registry import Registry
from .results import render_tables
from .task import build_task
from .task_index import LoadedTask, TaskIndex
from .training import Diverged, all_finite, divergence_guard

log = logging.getLogger("mu_registry")
SCHEMA_VERSION = 1
RANDOM_INIT_SEED_OFFSET = 7_777_777  # the untrained reference model's seed, apart from the run's


@dataclass
class RunConfig:
    tasks: list[str]
    methods: list[str] | None = None  # None: each task's default_methods
    model: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    output: str = "results"
    limit: int | None = None
    include_paths: list[str] = field(default_factory=list)
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "auto"
    use_cache: bool = True
    #: task keys changed for this run (``--set forget.ratio=0.05``), applied after includes
    task_overrides: dict[str, Any] = field(default_factory=dict)
    #: evaluation engine for generative tasks (None: each task's generation.engine)
    engine: str | None = None


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MuError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


class Runner:
    def __init__(self, config: RunConfig, registry: Registry, *, run_dir: Path | None = None,
                 previous: dict[str, Any] | None = None):
        self.config = config
        self.registry = registry
        self.index = TaskIndex(registry, config.include_paths, config.task_overrides)
        self.device = pick_device(config.device)
        self.cache = ModelCache(enabled=config.use_cache)
        self.run_dir = run_dir or Path(config.output) / new_run_id()
        self.resuming = previous is not None
        self.results: dict[str, Any] = previous or {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_dir.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": asdict(config),
            "environment": describe_environment(),
            "plugins": {n: {"distribution": p.distribution, "version": p.version, "status": p.status}
                        for n, p in registry.plugins.items()},
            "tasks": {},
            "status": "running",
        }

    @classmethod
    def resume(cls, run_dir: Path, registry: Registry, *, retry_failed: bool = False) -> Runner:
        """Continue the run recorded in ``run_dir`` with its own configuration. Failed records are kept
        (and skipped) unless ``retry_failed``: then they continue from their last finished request."""
        import json

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
            _reset_failed(previous)
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
    def _check_data_and_judge(self, loaded: LoadedTask) -> None:
        """A generative task's two set-up steps, both reported in one line when both are missing: the data
        (a builder's ``preflight``, e.g. MLUBench's release folder and the command that fetches it) and the
        judge (an LLM judge needs an endpoint)."""
        from .judge import make_judge

        cfg, problems = loaded.config, []
        if cfg.dataset.builder is not None:
            builder = self.registry.dataset(cfg.dataset.builder, context=f"{loaded.path}: dataset.builder")
            preflight = getattr(builder, "preflight", None)
            if preflight is not None:
                try:
                    preflight(**cfg.dataset.builder_args)
                except MuError as exc:
                    problems.append(str(exc))
        try:
            make_judge(self.registry, cfg.generation.judge, cfg.generation.judge_args, str(loaded.path))
        except MuError as exc:
            problems.append(str(exc))
        if problems:
            raise MuError("; and ".join(problems))

    def plan(self) -> list[tuple[LoadedTask, list[str]]]:
        """Validate every task and method before any training starts."""
        plan = []
        for name in self.index.expand(self.config.tasks):
            loaded = self.index.load(name)
            if loaded.config.task_type == "generation":  # missing data, a judge with no endpoint: before training
                self._check_data_and_judge(loaded)
            self.index.check(loaded)
            model_name = self.config.model or loaded.config.model.name
            self.registry.model(model_name, context="--model" if self.config.model else f"{loaded.path}: model.name")
            methods = self.config.methods if self.config.methods is not None else loaded.config.default_methods
            if methods == ["all"]:  # every usable method (one a plugin broke is disabled with a warning)
                methods = [m for m in self.registry.names("methods") if self.registry.usable("methods", m)]
            if not methods:
                raise MuError(f"{loaded.path}: no methods to run: pass --methods or set default_methods")
            plugin: Any = None
            for m in methods:
                cls = self.registry.method(m, context="--methods")
                # build each method once now, so a bad hyperparameter fails before any training
                from_yaml = loaded.config.methods.get(m, {})
                overrides = {**from_yaml, **self.config.method_args.get(m, {})}
                if loaded.config.task_type in cls.supports:
                    cls.make_params(from_yaml, context=f"{loaded.path}: methods.{m}: ")  # names the file
                    method = cls(cls.make_params(overrides, context=f"method '{m}': "))
                    check = getattr(method, "check_model", None)  # a choice the model's shape bounds (RMU's layer)
                    if check is not None:
                        try:
                            if plugin is None:
                                plugin = self.registry.model(model_name)(
                                    **(loaded.config.model.args if not self.config.model else {}))
                            check(plugin)
                        except MuError as exc:
                            where = f"--method-args {m}" if self.config.method_args.get(m) else \
                                f"{loaded.path}: methods.{m}"
                            raise MuError(f"{where}: {exc}") from None
            plan.append((loaded, methods))
        planned = {m for _, methods in plan for m in methods}
        for m in self.config.method_args:
            self.registry.method(m, context="--method-args")
            if m not in planned:
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
            # Ctrl-C, SIGTERM, a full disk: what is recorded stays, marked as not finished
            self.results["status"] = "interrupted"
            try:
                self.save()
            except (OSError, MuError):
                pass
            raise
        self.results["status"] = "done"
        self.save()
        self.write_plots()
        return self.results

    def _run_task_guarded(self, loaded: LoadedTask, methods: list[str], seed: int) -> None:
        """One task and seed; a failure outside any method (training a reference model, a reference's
        metric) is recorded for that task and seed, and the other tasks and seeds go on."""
        seed_rec = self.results["tasks"].get(loaded.name, {}).get("seeds", {}).get(str(seed), {})
        if seed_rec.get("status") == "failed":
            return  # recorded by an earlier attempt; --retry-failed resets it
        try:
            self._run_task(loaded, methods, seed)
        except (MuError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one failed task never stops the others
            task_rec = self.results["tasks"].setdefault(loaded.name, {})
            seed_rec = task_rec.setdefault("seeds", {}).setdefault(str(seed), {"methods": {}})
            self.record_failure(seed_rec, f"{loaded.name}/seed{seed}", None, exc)

    def write_plots(self) -> list[Path]:
        """PNG plots under RUN_DIR/plots; a plotting failure costs a warning, never the results."""
        from .plots import write_plots

        try:
            return write_plots(self.results, self.run_dir / "plots")
        except Exception as exc:  # noqa: BLE001 (matplotlib backends fail in many ways)
            log.warning("plots were not written: %s: %s", type(exc).__name__, exc)
            return []

    def save(self) -> None:
        try:
            atomic_write_json(self.run_dir / "results.json", self.results)
            atomic_write_text(self.run_dir / "results.md", render_tables(self.results, run_dir=self.run_dir))
        except OSError as exc:
            what = "--resume" if self.resuming else "--output"
            raise MuError(f"{what} {self.config.output if not self.resuming else self.run_dir}: cannot write "
                          f"{self.run_dir / 'results.json'}: {exc.strerror or _one_line(exc)}") from None

    def check_data(self, rec: dict[str, Any], fingerprint: str, loaded: LoadedTask) -> None:
        """On resume, the task's data must be what the run started with."""
        old = rec.get("data_fingerprint")
        if self.resuming and old and old != fingerprint:
            raise MuError(f"cannot resume {self.run_dir}: the data of task '{loaded.name}' ({loaded.path}) changed "
                          f"since the run started (fingerprint {old}, now {fingerprint}); start a new run")

    def _task_record(self, loaded: LoadedTask, data: TaskData, model_name: str) -> dict[str, Any]:
        rec = self.results["tasks"].setdefault(loaded.name, {})
        self.check_data(rec, data.train.fingerprint(), loaded)
        rec.update({
            "config": loaded.config.model_dump(mode="json"),
            "source": str(loaded.path),
            "plugin": loaded.source,
            "content_hash": loaded.hash,
            "data_fingerprint": data.train.fingerprint(),
            "model": model_name,
            "num_classes": data.num_classes,
            "sizes": {"train": len(data.train), "test": len(data.test),
                      "forget": len(data.forget), "retain": len(data.retain),
                      "requests": [len(r.forget) for r in data.requests],
                      **{k: len(v) for k, v in data.extra.items()}},
        })
        rec.setdefault("seeds", {})
        return rec

    def _run_task(self, loaded: LoadedTask, methods: list[str], seed: int) -> None:
        cfg = loaded.config
        if cfg.task_type == "generation":
            from .lifelong import LifelongRun

            LifelongRun(self, loaded, methods, seed).run()
            return
        data = build_task(loaded, self.registry, limit=self.config.limit)
        model_name = self.config.model or cfg.model.name
        adapter: Model = self.registry.model(model_name)(**(cfg.model.args if not self.config.model else {}))
        first = data.train.take([0])
        spec = TaskSpec(name=loaded.name, modality=cfg.modality, num_classes=data.num_classes,
                        input_columns=data.input_columns, label_column=data.label_column,
                        input_shapes={c: tuple(np.asarray(first.columns[c][0]).shape) for c in data.input_columns})
        task_rec = self._task_record(loaded, data, model_name)
        seed_rec = task_rec["seeds"].setdefault(str(seed), {"methods": {}})
        enc = _Encoder(adapter, spec, data)

        base_parts = {"model": model_name, "adapter": f"{type(adapter).__module__}.{type(adapter).__qualname__}",
                      "code": model_identity(self.registry, model_name, adapter),
                      "args": cfg.model.args if not self.config.model else {},
                      "train": cfg.model.train.model_dump(),
                      # the training data itself, not the task: a sweep over forget sets reuses the original
                      "data": data.train.fingerprint(), "limit": self.config.limit, "seed": seed}

        def train_reference(kind: str, split: Split) -> Any:
            parts = {**base_parts, "kind": kind, "train_ids": _ids_digest(split.ids)}
            encoded = enc(split)

            def train():
                torch.manual_seed(seed)
                module = adapter.build(spec, seed)
                return adapter.fit(module, encoded, cfg.model.train, seed=seed, device=self.device,
                                   desc=f"{loaded.name}: {kind}")
            trained = self.cache.get_or_train(parts, train=train, save=adapter.save,
                                              load=lambda p: adapter.load(spec, p, seed))
            trained.module.to(self.device).eval()
            return trained

        original = train_reference("original", data.train)
        for p in original.module.parameters():
            p.requires_grad_(False)
        seed_rec["original"] = {"train_time_s": original.train_time_s, "cached": original.cached,
                                "cache_key": original.key, "train_threads": original.train_threads,
                                "requests": []}
        seed_rec.setdefault("retrain", {"requests": []})
        eval_bs = cfg.eval_batch_size
        torch.manual_seed(seed + RANDOM_INIT_SEED_OFFSET)
        random_init = reinitialize(adapter.build(spec, seed + RANDOM_INIT_SEED_OFFSET),
                                   seed + RANDOM_INIT_SEED_OFFSET).to(self.device).eval()
        references: list[_References] = []
        for req in data.requests:
            retrain = train_reference(f"retrain-{req.index}", req.retain)
            sets = {k: enc(v) for k, v in data.eval_sets(req.index).items()}
            refs = _References(
                original=evaluate_sets(adapter, original.module, sets, batch_size=eval_bs, device=self.device),
                retrain=evaluate_sets(adapter, retrain.module, sets, batch_size=eval_bs, device=self.device),
                random_init=evaluate_sets(adapter, random_init, sets, batch_size=eval_bs, device=self.device))
            references.append(refs)
            _set_request(seed_rec["original"]["requests"], req.index, {
                "index": req.index,
                "metrics": self._metrics(cfg.metrics, refs.original, refs, data, req.index, method="original",
                                         task=cfg)})
            _set_request(seed_rec["retrain"]["requests"], req.index, {
                "index": req.index, "train_time_s": retrain.train_time_s, "cached": retrain.cached,
                "cache_key": retrain.key, "train_threads": retrain.train_threads,
                "metrics": self._metrics(cfg.metrics, refs.retrain, refs, data, req.index, method="retrain", task=cfg)})
            del retrain
        self.save()

        for method_name in methods:
            self._run_method(loaded, data, adapter, spec, enc, original.module, references,
                             method_name, seed, seed_rec)

    def _run_method(self, loaded: LoadedTask, data: TaskData, adapter: Model, spec: TaskSpec, enc: _Encoder,
                    original: torch.nn.Module, references: list[_References], method_name: str, seed: int,
                    seed_rec: dict[str, Any]) -> None:
        cfg = loaded.config
        made = self.method_for(loaded, method_name, seed_rec)
        if made is None:
            return
        method, rec = made
        ckpt = self.checkpoint_path(loaded, seed, method_name)
        model = copy.deepcopy(original)
        start_at = len(rec["requests"])
        if start_at:
            model.load_state_dict(read_checkpoint(ckpt, start_at, f"{loaded.name}/{method_name}")["model"])
        for p in model.parameters():
            p.requires_grad_(True)
        model.to(self.device)
        bar = progress(total=len(data.requests), initial=start_at, desc=f"{loaded.name}: {method_name}",
                       unit="request")
        for req in data.requests[start_at:]:
            ctx = UnlearnContext(model=model, original=original, forget=enc(req.forget), retain=enc(req.retain),
                                 adapter=adapter, num_classes=data.num_classes, request_index=req.index,
                                 seed=seed, device=self.device, spec=spec, train=cfg.model.train,
                                 build_fresh=lambda s: adapter.build(spec, s))
            ctx.epoch_end = selector_for(
                cfg, registry=self.registry, method=method_name, num_classes=data.num_classes,
                sets={k: enc(v) for k, v in data.eval_sets(req.index).items()}, original=references[req.index].original,
                evaluate=lambda m, s: evaluate_sets(adapter, m, s, batch_size=cfg.eval_batch_size, device=self.device))
            torch.manual_seed(seed * 1000 + req.index)
            model.train()
            t0 = time.perf_counter()
            try:
                model = guarded_unlearn(method, ctx)
                best = ctx.epoch_end.finish(model) if ctx.epoch_end is not None else None  # MU-Bench's best epoch
                elapsed = time.perf_counter() - t0 - (best["selection_time_s"] if best else 0.0)
                model.eval()
                sets = {k: enc(v) for k, v in data.eval_sets(req.index).items()}
                outputs = evaluate_sets(adapter, model, sets, batch_size=cfg.eval_batch_size, device=self.device)
                metrics = self._metrics(cfg.metrics, outputs, references[req.index], data, req.index,
                                        method=method_name, task=cfg)
            except NotApplicableError as exc:
                rec.update({"status": "not_applicable", "reason": str(exc)})
                log.warning("method '%s' does not apply to task '%s': %s", method_name, loaded.name, exc)
                self.save()
                bar.close()
                return
            except Exception as exc:  # noqa: BLE001 - one failed method never stops the others
                self.record_failure(rec, f"{loaded.name}/seed{seed}/{method_name}", req.index, exc)
                bar.close()
                return
            retrain_time = seed_rec["retrain"]["requests"][req.index]["train_time_s"]
            self.save_checkpoint({"request": req.index, "model": model.state_dict()}, ckpt)
            rec["requests"].append({"index": req.index, "time_s": elapsed,
                                    "speedup_vs_retrain": retrain_time / elapsed if elapsed > 0 else None,
                                    "metrics": metrics, **({"best_epoch": best} if best else {})})
            rec["status"] = "done" if req.index == len(data.requests) - 1 else "running"
            self.save()
            bar.update(1)
        bar.close()

    def method_for(self, loaded: LoadedTask, method_name: str, seed_rec: dict[str, Any],
                   base: type = Method) -> tuple[Method, dict[str, Any]] | None:
        """The method with its task and CLI overrides and its record; ``None`` when it is done already
        or does not apply to the task (recorded as not applicable)."""
        cfg = loaded.config
        cls: type[Method] = self.registry.method(method_name)
        rec = seed_rec["methods"].setdefault(method_name, {"requests": [], "status": "pending"})
        if rec["status"] in ("done", "not_applicable", "failed"):  # failed: --retry-failed reset it on resume
            return None
        if cfg.task_type not in cls.supports or not issubclass(cls, base):
            rec.update({"status": "not_applicable",
                        "reason": f"supports {sorted(cls.supports)}, task is {cfg.task_type}"})
            log.warning("method '%s' does not apply to task '%s' (%s); skipped", method_name, loaded.name,
                        rec["reason"])
            self.save()
            return None
        overrides = {**cfg.methods.get(method_name, {}), **self.config.method_args.get(method_name, {})}
        method = cls(cls.make_params(overrides, context=f"method '{method_name}': "))
        rec["params"] = method.describe()
        return method, rec

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

    def failures(self) -> list[str]:
        """'task/seedN/method: error' for every failed record of this run."""
        return failures(self.results)

    def save_checkpoint(self, state: dict[str, Any], path: Path) -> None:
        """Write a checkpoint; a full disk or a read-only folder is one line naming the file."""
        try:
            atomic_torch_save(state, path)
        except (OSError, RuntimeError) as exc:
            raise MuError(f"cannot write checkpoint {path}: {_one_line(exc)}; the requests recorded so far are "
                          f"intact (free space, then resume with: mu-eval run --resume {self.run_dir})") from None

    def checkpoint_path(self, loaded: LoadedTask, seed: int, method_name: str) -> Path:
        return self.run_dir / "checkpoints" / loaded.name / f"seed{seed}" / f"{method_name}.pt"

    def _metrics(self, names: list[str], outputs: dict[str, SetOutputs], refs: _References, data: TaskData,
                 index: int, method: str | None = None, task: Any = None) -> dict[str, Any]:
        ctx = MetricContext(outputs=outputs, original=refs.original, retrain=refs.retrain,
                            num_classes=data.num_classes, request_index=index, random_init=refs.random_init,
                            method=method, task=task.model_dump(mode="json") if task is not None else None)
        out: dict[str, Any] = {}
        for name in names:
            try:
                value = self.registry.metric(name)(ctx)
            except MuError:
                raise
            except Exception as exc:  # noqa: BLE001 - named, then recorded as the method's failure
                raise MetricFailed(name, exc) from exc
            out[name] = _clean(value)
        return out


@dataclass
class _References:
    """Outputs of the reference models on one request's evaluation sets."""

    original: dict[str, SetOutputs]
    retrain: dict[str, SetOutputs]
    random_init: dict[str, SetOutputs]


class _Encoder:
    """Encodes each distinct split once (by content), so request subsets reuse the tensors."""

    def __init__(self, adapter: Model, spec: TaskSpec, data: TaskData):
        self.adapter, self.spec = adapter, spec
        self._train = adapter.encode(data.train, spec)
        self._pos = {int(i): p for p, i in enumerate(data.train.ids)}
        self._memo: dict[tuple[str, int, str], EncodedSplit] = {}

    def __call__(self, split: Split) -> EncodedSplit:
        key = (split.name, len(split), _ids_digest(split.ids))
        if key in self._memo:
            return self._memo[key]
        if split.name in ("train", "retain") or split.name.startswith("forget"):  # subsets of train
            pos = torch.as_tensor([self._pos[int(i)] for i in split.ids], dtype=torch.long)
            enc = EncodedSplit(split.name, {k: v.index_select(0, pos) for k, v in self._train.inputs.items()},
                               self._train.labels.index_select(0, pos), split.ids)
        else:
            enc = self.adapter.encode(split, self.spec)
        self._memo[key] = enc
        return enc


class MetricFailed(Exception):
    """A metric raised; the record of the model it measured is marked failed."""

    def __init__(self, name: str, exc: BaseException):
        super().__init__(f"metric '{name}' raised {type(exc).__name__}: {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "") if text else type(exc).__name__


def failure_summary(exc: BaseException) -> str:
    """The one line recorded for a failure: ``diverged at epoch E step S`` or ``Type: message``."""
    if isinstance(exc, (Diverged, MetricFailed)):
        return str(exc)
    return f"{type(exc).__name__}: {_one_line(exc)}"


def guarded_unlearn(method: Any, ctx: Any) -> torch.nn.Module:
    """``method.unlearn(ctx)`` with every optimiser step checked for non-finite weights, and the
    returned model checked once more (a method may change weights without an optimiser)."""
    with divergence_guard() as guard:
        model = method.unlearn(ctx)
    if not all_finite([p for p in model.parameters()]):
        raise Diverged(guard.epoch, guard.step)
    return model


def check_writable(folder: Path, what: str, hint: str = "") -> None:
    """A folder the run will write to must be writable: one line naming it, before any training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".mu-write-test-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise MuError(f"{what} {folder}: not writable ({exc.strerror or _one_line(exc)}){' ' + hint if hint else ''}"
                      ) from None


def _reset_failed(results: dict[str, Any]) -> None:
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


def read_checkpoint(path: Path, start_at: int, what: str) -> dict[str, Any]:
    """The checkpoint a resumed method continues from; it must be the one for the last recorded request."""
    if not path.exists():
        raise MuError(f"cannot resume {what}: checkpoint {path} is missing")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["request"] != start_at - 1:
        raise MuError(f"cannot resume {what}: checkpoint is for request {state['request']}, "
                      f"results end at {start_at - 1}")
    return state


def _warm_up_lazy_imports() -> None:
    """Build one throwaway optimizer: torch's first one imports torch._dynamo (~2 s on 2 cores),
    which would otherwise be charged to whichever method happens to run first."""
    for opt in (torch.optim.Adam, torch.optim.SGD, torch.optim.AdamW):
        opt([torch.zeros(1, requires_grad=True)], lr=0.1)


def _ids_digest(ids: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()[:16]


def _set_request(rows: list[dict[str, Any]], index: int, row: dict[str, Any]) -> None:
    while len(rows) <= index:
        rows.append({})
    rows[index] = row


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else v
    if isinstance(value, np.integer):
        return int(value)
    return value
