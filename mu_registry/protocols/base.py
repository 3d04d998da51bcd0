"""One request loop for every task type, and the interface a protocol fills in around it.

A protocol (``PROTOCOLS[task_type]``, registered through the ``mu_register_protocols`` hook) runs one
task and seed: it builds the data and the model, trains or loads the reference models, and for each
method calls :func:`request_loop`. The loop is the same for every protocol: skip what is done, resume
from the last checkpoint, seed, unlearn with the divergence guard, measure, checkpoint, record, save,
tick the progress bar; a method that does not apply or fails is recorded and the others go on. What
differs by task type is in the protocol's :class:`MethodRun`: how a method starts (or resumes) on the
model, what it is given for one request, what is measured after it, and what a checkpoint holds.
"""

from __future__ import annotations

import copy
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from mu_registry.api.method import Method
from mu_registry.config.run import RunConfig
from mu_registry.protocols.model_cache import ModelCache
from mu_registry.protocols.record import RunRecord, read_checkpoint
from mu_registry.registry.manager import Registry
from mu_registry.registry.task_index import LoadedTask
from mu_registry.training.loop import Diverged, all_finite, divergence_guard
from mu_registry.util.errors import NotApplicableError
from mu_registry.util.progress import progress, stage

log = logging.getLogger("mu_registry")


@dataclass
class RunSetup:
    """What every protocol is given besides the record: the run's configuration, registry, device and
    model cache."""

    config: RunConfig
    registry: Registry
    device: torch.device
    cache: ModelCache

    def model_for(self, cfg: Any) -> tuple[str, dict[str, Any]]:
        """The model plugin a task runs with and its arguments: ``--model`` (with its defaults), else the task's
        ``model.name`` and ``model.args``."""
        return (self.config.model, {}) if self.config.model else (cfg.model.name, cfg.model.args)


class Protocol(ABC):
    """Runs one task and seed in stages that :func:`mu_registry.run.runner.run_task` calls in order:
    ``load_data``, ``build_model``, ``references`` (returns the frozen original), then :func:`request_loop` with
    ``method_run(name)`` for each method. ``task_type`` names the tasks it runs; ``method_base`` is the
    Method class a method must derive from to apply; ``seed_record`` is this task and seed's record."""

    task_type: ClassVar[str]
    method_base: ClassVar[type] = Method

    def __init__(self, setup: RunSetup, record: RunRecord, loaded: LoadedTask, seed: int):
        self.setup, self.record, self.loaded, self.seed = setup, record, loaded, seed
        self.cfg = loaded.config
        self.device = setup.device
        self.seed_record: dict[str, Any] = {}

    @abstractmethod
    def load_data(self) -> None:
        """The task's splits, forget sets and requests."""

    @abstractmethod
    def build_model(self) -> None:
        """The model plugin, and what it must support checked before anything trains."""

    @abstractmethod
    def references(self) -> torch.nn.Module:
        """Train (or load from the cache) the reference models, evaluate and record them; the original model,
        frozen, is returned: every method starts from a copy of it."""

    @abstractmethod
    def method_run(self, method_name: str) -> MethodRun:
        """What happens around the shared loop for one method."""


class MethodRun(ABC):
    """What a protocol does around the shared loop for one method."""

    #: the requests in order; each has ``index``
    requests: Sequence[Any]

    @abstractmethod
    def start(self, method: Any, model: torch.nn.Module, state: dict[str, Any] | None) -> torch.nn.Module:
        """The model the first request unlearns from: the method prepared on a copy of the original, or, on
        resume, restored from ``state`` (the last checkpoint)."""

    @abstractmethod
    def context(self, method: Any, model: torch.nn.Module, request: Any) -> Any:
        """What the method is given for ``request``."""

    def before_unlearn(self, model: torch.nn.Module) -> None:
        """Called after seeding, right before ``unlearn``."""

    @abstractmethod
    def measure(self, method: Any, model: torch.nn.Module, request: Any, ctx: Any, started: float) -> dict[str, Any]:
        """The request's row in the results (its metrics and time); ``started`` is when unlearning began."""

    @abstractmethod
    def checkpoint(self, method: Any, model: torch.nn.Module, request: Any) -> dict[str, Any]:
        """What a resumed run needs to continue after ``request`` (besides ``request`` itself)."""


def method_label(registry: Registry, name: str, context: str | None = None, *, warn: bool = False,
                 loaded: LoadedTask | None = None) -> str:
    """What a method asked for as ``name`` is recorded under: a preset of the task (``presets:``) or an old
    name that presets parameters (``lumoe_npo``) keeps its name; any other old name becomes the algorithm's
    (``neggrad`` -> ``ga``)."""
    if loaded is not None and name in loaded.config.presets:
        return name
    canonical, preset = registry.canonical("methods", name, context, warn=warn)
    return name if preset else canonical


def method_spec(registry: Registry, loaded: LoadedTask, label: str, method_args: dict[str, dict[str, Any]], *,
                warn: bool = False) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(the algorithm's registered name, the task file's overrides, every override) for the method recorded as
    ``label``: an old name's preset, then the task's ``methods:`` block, then ``--method-args`` (keys given
    under an old name count for the name they stand for)."""
    if label in loaded.config.presets:
        preset = dict(loaded.config.presets[label])
        canonical, alias_preset = registry.canonical("methods", preset.pop("method"), f"{loaded.path}: presets.{label}",
                                                     warn=warn)
        preset = {**alias_preset, **preset}
    else:
        canonical, preset = registry.canonical("methods", label, warn=False)

    def given(overrides: dict[str, dict[str, Any]], context: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, values in overrides.items():
            if method_label(registry, key, context, warn=warn, loaded=loaded) == label:
                out.update(values)
        return out

    from_yaml = given(loaded.config.methods, f"{loaded.path}: methods")
    from_cli = given(method_args, "--method-args")
    return canonical, {**preset, **from_yaml}, {**preset, **from_yaml, **from_cli}


def make_method(setup: RunSetup, record: RunRecord, loaded: LoadedTask, method_name: str, seed_rec: dict[str, Any],
                base: type = Method) -> tuple[Any, dict[str, Any]] | None:
    """The method with its task and CLI overrides and its record; ``None`` when it is done already
    or does not apply to the task (recorded as not applicable)."""
    cfg = loaded.config
    canonical, _, overrides = method_spec(setup.registry, loaded, method_name, setup.config.method_args)
    cls: type[Method] = setup.registry.method(canonical, task_type=cfg.task_type)
    rec = seed_rec["methods"].setdefault(method_name, {"requests": [], "status": "pending"})
    if rec["status"] in ("done", "not_applicable", "failed"):  # failed: --retry-failed reset it on resume
        return None
    if cfg.task_type not in cls.supports or not issubclass(cls, base):
        rec.update({"status": "not_applicable",
                    "reason": f"supports {sorted(cls.supports)}, task is {cfg.task_type}"})
        log.warning("method '%s' does not apply to task '%s' (%s); skipped", method_name, loaded.name,
                    rec["reason"])
        record.save()
        return None
    method = cls(cls.make_params(overrides, context=f"method '{method_name}': "), registry=setup.registry)
    rec["params"] = method.describe()
    return method, rec


def request_loop(protocol: Protocol, run: MethodRun, method_name: str, original: torch.nn.Module,
                 seed_rec: dict[str, Any]) -> None:
    """Every request of ``run.requests`` for one method: the loop every protocol shares."""
    loaded, seed, record = protocol.loaded, protocol.seed, protocol.record
    made = make_method(protocol.setup, record, loaded, method_name, seed_rec, base=protocol.method_base)
    if made is None:
        return
    method, rec = made
    what = f"{loaded.name}/{method_name}"
    ckpt = record.checkpoint_path(loaded.name, seed, method_name)
    model = copy.deepcopy(original)
    for p in model.parameters():
        p.requires_grad_(True)
    start_at = len(rec["requests"])
    model = run.start(method, model, read_checkpoint(ckpt, start_at, what) if start_at else None)
    model.to(protocol.device)
    requests = run.requests
    bar = progress(total=len(requests), initial=start_at, desc=f"{loaded.name}: {method_name}", unit="request")
    for req in requests[start_at:]:
        ctx = run.context(method, model, req)
        torch.manual_seed(seed * 1000 + req.index)
        run.before_unlearn(model)
        stage("%s: %s: request %d of %d: unlearning", loaded.name, method_name, req.index + 1, len(requests))
        started = time.perf_counter()
        try:
            model = guarded_unlearn(method, ctx)
            stage("%s: %s: request %d of %d: evaluating", loaded.name, method_name, req.index + 1, len(requests))
            row = run.measure(method, model, req, ctx, started)
        except NotApplicableError as exc:
            rec.update({"status": "not_applicable", "reason": str(exc)})
            log.warning("method '%s' does not apply to task '%s': %s", method_name, loaded.name, exc)
            record.save()
            bar.close()
            return
        except Exception as exc:  # noqa: BLE001 - one failed method never stops the others
            record.record_failure(rec, f"{loaded.name}/seed{seed}/{method_name}", req.index, exc)
            bar.close()
            return
        record.save_checkpoint({"request": req.index, **run.checkpoint(method, model, req)}, ckpt)
        rec["requests"].append(row)
        rec["status"] = "done" if req.index == len(requests) - 1 else "running"
        record.save()
        bar.update(1)
    bar.close()


def guarded_unlearn(method: Any, ctx: Any) -> torch.nn.Module:
    """``method.unlearn(ctx)`` with every optimiser step checked for non-finite weights, and the
    returned model checked once more (a method may change weights without an optimiser)."""
    with divergence_guard() as guard:
        model = method.unlearn(ctx)
    if not all_finite([p for p in model.parameters()]):
        raise Diverged(guard.epoch, guard.step)
    return model
