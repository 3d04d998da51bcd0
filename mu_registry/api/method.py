"""The ``Method`` base class: one unlearning algorithm.

A method receives the current model and one request and returns the unlearned
model. It does not load data, build models or compute metrics. Its
hyperparameters are a dataclass ``Params`` holding the paper's defaults; task
YAML (``methods: {name: {...}}``) and the CLI (``--method-args``) override them.

Minimal example::

    import torch.nn.functional as F
    from mu_registry import Method, UnlearnContext

    class NegGrad(Method):
        @dataclass
        class Params:
            lr: float = 1e-4
            epochs: int = 1

        def unlearn(self, ctx: UnlearnContext):
            opt = torch.optim.Adam(ctx.model.parameters(), lr=self.params.lr)
            for batch in ctx.batches(ctx.forget, epochs=self.params.epochs):
                loss = -F.cross_entropy(ctx.logits(batch), batch.labels)
                opt.zero_grad(); loss.backward(); opt.step()
            return ctx.model
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from mu_registry.training.batching import Batch
from mu_registry.util.errors import MuError
from mu_registry.training.random_init import reinitialize
from mu_registry.training.loop import iterate_batches, note_epoch
from mu_registry.util.errors import suggest

if TYPE_CHECKING:
    from mu_registry.api.model import EncodedSplit, Model, TaskSpec
    from mu_registry.config.task import TrainConfig


@dataclass
class UnlearnContext:
    """What a method is given for one request.

    Attributes:
        model: the model to unlearn from (already a private copy: change it in place).
        original: the model before any unlearning, frozen, in eval mode (teacher / reference).
        forget: the request's forget set, encoded (D_f in the papers).
        retain: the data to keep, encoded (D_r).
        adapter: the model plugin; ``logits`` goes through it.
        num_classes: size of the label space.
        request_index: 0 for the first request.
        seed: the run's seed; ``generator`` is seeded from it.
        spec: what the task looks like to a model (shapes, classes).
        train: the task's training configuration (how original and retrain were trained).
        build_fresh: ``build_fresh(seed)`` returns a newly initialised, untrained network.
    """

    model: nn.Module
    original: nn.Module
    forget: EncodedSplit
    retain: EncodedSplit
    adapter: Model
    num_classes: int
    request_index: int
    seed: int
    device: torch.device
    spec: TaskSpec | None = None
    train: TrainConfig | None = None
    build_fresh: Callable[[int], nn.Module] | None = None
    #: called with (model, epoch) at the end of each epoch (best-epoch selection); None: nothing to do
    epoch_end: Callable[[nn.Module, int], None] | None = None
    generator: torch.Generator = field(init=False)
    epochs_done: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed * 1000 + self.request_index)

    def fresh_model(self, seed: int | None = None) -> nn.Module:
        """A newly initialised network of the same family, on the context's device."""
        if self.build_fresh is None:
            raise MuError("this context cannot build fresh models")
        return self.build_fresh(self.seed if seed is None else seed).to(self.device)

    def random_model(self, seed: int | None = None) -> nn.Module:
        """A randomly initialised network of the same architecture, pretrained weights included: every
        parameter drawn again from its initialiser (Bad Teacher's and ZRF's incompetent teacher)."""
        seed = self.seed if seed is None else seed
        return reinitialize(self.fresh_model(seed), seed)

    def end_epoch(self) -> None:
        """A method calls this after each of its epochs, so a task can keep the best epoch (``select_best``)."""
        self.epochs_done += 1
        if self.epoch_end is not None:
            self.epoch_end(self.model, self.epochs_done)

    def logits(self, batch: Batch, model: nn.Module | None = None) -> torch.Tensor:
        """Class scores of ``model`` (default: the model being unlearned) on ``batch``."""
        return self.adapter.forward(model if model is not None else self.model, batch.inputs)

    def batches(self, split: EncodedSplit, *, batch_size: int = 64, epochs: int = 1,
                shuffle: bool = True) -> Iterator[Batch]:
        """Mini-batches over ``split`` for ``epochs`` epochs, on the context's device."""
        for _ in range(epochs):
            note_epoch()  # the divergence check names the epoch it failed in
            yield from iterate_batches(split, batch_size, shuffle=shuffle, generator=self.generator,
                                       device=self.device)

    def cycle(self, split: EncodedSplit, *, batch_size: int = 64) -> Iterator[Batch]:
        """An endless stream of shuffled batches over ``split`` (for a second, paired loader; its passes
        are not counted as epochs)."""
        while True:
            yield from iterate_batches(split, batch_size, shuffle=True, generator=self.generator, device=self.device)


class Method(ABC):
    """Base class for unlearning methods. Subclass, set ``Params``, implement ``unlearn``."""

    #: Task types the method applies to ("classification", "generation").
    supports: ClassVar[frozenset[str]] = frozenset({"classification"})

    @dataclass
    class Params:
        """Hyperparameters with the paper's defaults (override in subclasses)."""

    def __init__(self, params: Any = None, *, registry: Any = None, **overrides: Any):
        self.params = params if params is not None else self.make_params(overrides)
        #: the run's registry, for a method that looks up other plugins by name (LUMoE's router); None when
        #: the method is built outside a run
        self.registry = registry

    @classmethod
    def make_params(cls, overrides: dict[str, Any], context: str = "") -> Any:
        """Build ``Params`` from overrides, with a one-line error naming a bad key."""
        fields = {f.name: f for f in dataclasses.fields(cls.Params)}
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in fields:
                hint = suggest(key, fields)
                known = ", ".join(fields) or "none"
                raise MuError(f"{context}unknown parameter '{key}' for method {cls.__name__}"
                              + (f" (did you mean {hint}?)" if hint else f"; parameters: {known}"))
            clean[key] = _coerce(value, fields[key], context)
        try:
            params = cls.Params(**clean)
        except MuError as exc:  # a value a Params.__post_init__ refuses (label_rule, preset, reduction)
            raise MuError(f"{context}{exc}") from None
        for name in fields:  # a learning rate <= 0 would reach the optimiser's own ValueError
            value = getattr(params, name, None)
            if _is_learning_rate(name) and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and not value > 0:
                raise MuError(f"{context}parameter '{name}' is a learning rate and must be > 0, got {value}")
        return params

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params)

    @abstractmethod
    def unlearn(self, ctx: UnlearnContext) -> nn.Module:
        """Return the model after unlearning ``ctx.forget`` (may be ``ctx.model`` changed in place)."""


def _is_learning_rate(name: str) -> bool:
    return name in ("lr", "learning_rate") or name.endswith(("_lr", "_learning_rate"))


def _coerce(value: Any, f: dataclasses.Field, context: str) -> Any:
    """Turn CLI strings into the field's declared type (int, float, bool, str); a YAML value of the
    wrong type (a list for a float, 1.5 for an int) is an error naming the parameter."""
    if not isinstance(value, str):
        return _check_type(value, f, context)
    typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    typ = typ.removesuffix(" | None")  # an optional parameter (None: taken from a preset) from the CLI
    try:
        if typ == "int":
            return int(value)
        if typ == "float":
            return float(value)
        if typ == "bool":
            if value.lower() in ("1", "true", "yes"):
                return True
            if value.lower() in ("0", "false", "no"):
                return False
            raise ValueError(value)
    except ValueError:
        raise MuError(f"{context}parameter '{f.name}' expects {typ}, got '{value}'") from None
    return value


def _check_type(value: Any, f: dataclasses.Field, context: str) -> Any:
    typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    optional = typ.endswith(" | None")
    typ = typ.removesuffix(" | None")
    if value is None and optional:
        return value
    ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          "bool": lambda v: isinstance(v, bool)}.get(typ)
    if ok is not None and not ok(value):
        raise MuError(f"{context}parameter '{f.name}' expects {typ}, got {value!r}")
    return value
