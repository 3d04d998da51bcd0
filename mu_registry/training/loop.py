"""Shared training helpers: batching, optimisers, and the supervised loop."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from mu_registry.training.batching import Batch, num_batches
from mu_registry.util.progress import progress
from mu_registry.config.task import TrainConfig
from mu_registry.util.atomic import atomic_torch_save
from mu_registry.util.errors import MuError

if TYPE_CHECKING:
    from mu_registry.api.model import EncodedSplit, Model


log = logging.getLogger("mu_registry")


class Diverged(Exception):
    """Loss or weights became non-finite (NaN or infinite) while training or unlearning (a failure of
    the method or model being trained, recorded as such; not a usage error)."""

    def __init__(self, epoch: int, step: int, what: str = "weights"):
        self.epoch, self.step, self.what = epoch, step, what
        super().__init__(f"diverged at epoch {epoch} step {step}")


def all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """Whether every value is finite: one fused max-abs per tensor and one host sync."""
    tensors = [t.detach() for t in tensors if t.numel()]
    if not tensors:
        return True
    norms = torch._foreach_norm(tensors, float("inf"))
    device = norms[0].device
    return bool(torch.isfinite(torch.stack([n.float().to(device) for n in norms])).all().item())


class DivergenceGuard:
    """Watches every optimiser step while active (a global post-step hook, so it sees the optimisers a
    method builds itself): after each step the stepped weights must be finite, else :class:`Diverged`
    is raised out of ``opt.step()`` naming the epoch and step. Epochs are passes over a split
    (``ctx.batches`` and :func:`train_steps` call :func:`note_epoch`); both are counted from 1, the step
    within its epoch."""

    def __init__(self) -> None:
        self.epoch, self.step = 1, 0
        self._epochs_seen = 0

    def new_epoch(self) -> None:
        self._epochs_seen += 1
        self.epoch, self.step = self._epochs_seen, 0

    def _after_step(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.step += 1
        params = [p for group in opt.param_groups for p in group["params"]]
        if not all_finite(params):
            raise Diverged(self.epoch, self.step)

    def check_loss(self, value: torch.Tensor) -> None:
        if not bool(torch.isfinite(value.detach()).all()):
            raise Diverged(self.epoch, self.step + 1, "loss")


_ACTIVE: list[DivergenceGuard] = []


def note_epoch() -> None:
    """Tell the active guard (if any) that a new pass over the data begins."""
    if _ACTIVE:
        _ACTIVE[-1].new_epoch()


@contextlib.contextmanager
def divergence_guard() -> Iterator[DivergenceGuard]:
    """Check every optimiser step inside the block for non-finite weights (see DivergenceGuard)."""
    guard = DivergenceGuard()
    from torch.optim.optimizer import register_optimizer_step_post_hook

    handle = register_optimizer_step_post_hook(guard._after_step)
    _ACTIVE.append(guard)
    try:
        yield guard
    finally:
        _ACTIVE.remove(guard)
        handle.remove()


def iterate_batches(split: EncodedSplit, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                    device: torch.device | None = None) -> Iterator[Batch]:
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        pos = order[start:start + batch_size]
        inputs = {k: v.index_select(0, pos) for k, v in split.inputs.items()}
        labels = split.labels.index_select(0, pos)
        if device is not None and device.type != "cpu":
            inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
            labels = labels.to(device, non_blocking=True)
        yield Batch(inputs, labels, pos)


def make_optimizer(params, name: str, lr: float, *, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer '{name}'")


#: which weights an unlearning method's weight decay applies to (its ``weight_decay_params`` parameter):
#: ``all`` (every weight, as a torch optimiser given ``model.parameters()``) or ``hf`` (Hugging Face's Trainer)
WEIGHT_DECAY_PARAMS = ("all", "hf")


def check_trainer_options(max_grad_norm: float, weight_decay_params: str) -> None:
    """Refuse a negative ``max_grad_norm`` or an unknown ``weight_decay_params``, naming the parameter."""
    if weight_decay_params not in WEIGHT_DECAY_PARAMS:
        raise MuError(f"parameter 'weight_decay_params' must be one of {', '.join(WEIGHT_DECAY_PARAMS)}, "
                      f"got '{weight_decay_params}'")
    if not max_grad_norm >= 0:
        raise MuError(f"parameter 'max_grad_norm' must be >= 0 (0: no clipping), got {max_grad_norm}")


def hf_decay_parameter_names(model: nn.Module) -> set[str]:
    """The names of the weights Hugging Face's Trainer applies weight decay to, as MU-Bench runs it.

    ``CLU-UML/MU-Bench`` at 48f5c7b ships the transformers it was written against (4.39.3) as
    ``transformers_for_cl``: ``trainer.py`` ``Trainer.get_decay_parameter_names`` (l.979-988) keeps
    ``get_parameter_names(model, ALL_LAYERNORM_LAYERS)`` less every name containing ``"bias"``;
    ``trainer_pt_utils.py`` ``get_parameter_names`` (l.1080-1093) lists every parameter not inside a module of
    a forbidden type, ``ALL_LAYERNORM_LAYERS = [nn.LayerNorm]`` (``pytorch_utils.py`` l.25); ``create_optimizer``
    (l.990-1014) gives the other weights ``weight_decay: 0.0``. So: no decay on biases (any parameter whose
    name holds ``bias``) nor on ``nn.LayerNorm`` weights; other normalisation layers (BatchNorm, GroupNorm)
    are decayed."""

    def names(module: nn.Module) -> list[str]:
        out = [f"{child_name}.{n}" for child_name, child in module.named_children()
               if not isinstance(child, nn.LayerNorm) for n in names(child)]
        return out + list(module._parameters.keys())

    return {n for n in names(model) if "bias" not in n}


def clip_grad_norm_before_step(opt: torch.optim.Optimizer, max_norm: float) -> None:
    """Clip the gradients of ``opt``'s weights to a global L2 norm of ``max_norm`` before each of its
    updates, as Hugging Face's Trainer does between ``backward`` and ``optimizer.step()`` with its default
    ``max_grad_norm=1.0`` (MU-Bench's ``transformers_for_cl/training_args.py`` l.789, ``trainer.py``
    l.2151-2167: ``clip_grad_norm_(model.parameters(), max_grad_norm)``): every gradient is multiplied by
    ``min(1, max_norm / (‖g‖₂ + 1e-6))``, ‖g‖₂ over all gradients together (``torch.nn.utils.clip_grad_norm_``).
    Runs after anything a method does to the gradients before ``opt.step()`` (SalUn's mask, as MU-Bench's
    ``training_step`` masks before the Trainer clips)."""

    def clip(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if grads:
            torch.nn.utils.clip_grad_norm_(grads, max_norm)

    opt.register_step_pre_hook(clip)


def unlearning_optimizer(model: nn.Module, name: str, lr: float, *, weight_decay: float = 0.0, momentum: float = 0.9,
                         weight_decay_params: str = "all", max_grad_norm: float = 0.0) -> torch.optim.Optimizer:
    """A classification unlearning method's optimiser over ``model``'s weights.

    ``weight_decay_params``: ``all`` decays every weight (``make_optimizer(model.parameters(), ...)``, as
    before this option existed); ``hf`` decays only :func:`hf_decay_parameter_names` (the trainable ones), the
    rest in a group with weight decay 0, as Hugging Face's Trainer does. ``max_grad_norm`` > 0 clips the
    gradients before every update (:func:`clip_grad_norm_before_step`); 0 does not (HF: "0 to disable")."""
    check_trainer_options(max_grad_norm, weight_decay_params)
    params: Any = model.parameters()
    if weight_decay_params == "hf":
        decay = hf_decay_parameter_names(model)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = [{"params": [p for n, p in named if n in decay], "weight_decay": weight_decay},
                  {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
        params = [g for g in groups if g["params"]]
    opt = make_optimizer(params, name, lr, weight_decay=weight_decay, momentum=momentum)
    if max_grad_norm > 0:
        clip_grad_norm_before_step(opt, max_grad_norm)
    return opt


def lr_schedule(opt: torch.optim.Optimizer, total: int, warmup_ratio: float = 0.0):
    """Linear warm-up over ``warmup_ratio`` of ``total`` steps, then cosine decay to zero."""
    warmup = int(total * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


#: per-step learning-rate schedules an unlearning method can run (its ``lr_schedule`` parameter)
LR_SCHEDULES = ("constant", "linear")


def check_lr_schedule(name: str) -> None:
    if name not in LR_SCHEDULES:
        raise MuError(f"parameter 'lr_schedule' must be one of {', '.join(LR_SCHEDULES)}, got '{name}'")


def linear_decay_factor(step: int, total_steps: int) -> float:
    """The learning-rate factor of the ``step``-th optimiser update (from 0) under linear decay to zero with
    no warm-up: Hugging Face transformers' ``get_linear_schedule_with_warmup`` with ``num_warmup_steps=0``
    (``huggingface/transformers`` at ad1fc963, ``src/transformers/optimization.py``,
    ``_get_linear_schedule_with_warmup_lr_lambda``: ``max(0, (total - step) / max(1, total))``), the
    Trainer's default ``lr_scheduler_type`` and what MU-Bench's unlearning runs use (``warmup_steps: 0``
    in every ``experiment/*/gen_config.py`` of ``CLU-UML/MU-Bench`` at 48f5c7b)."""
    return max(0.0, (total_steps - step) / max(1, total_steps))


def unlearning_schedule(opt: torch.optim.Optimizer, name: str,
                        total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The per-step schedule of an unlearning method's optimiser; call ``.step()`` after every
    ``opt.step()``. ``constant``: the configured rate throughout. ``linear``: update k (k = 0 .. total-1)
    uses ``lr * (total - k) / total`` (:func:`linear_decay_factor`); ``total_steps`` is the number of
    optimiser updates the method will make (HF's ``num_training_steps``: batches per epoch x epochs)."""
    check_lr_schedule(name)
    if name == "linear":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: linear_decay_factor(step, total_steps))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)


class EpochCheckpoints:
    """Where the loops of one reference model's training keep their state after each epoch, so an interrupted
    training resumes at its last finished epoch with the numbers of an uninterrupted one (the model, the
    optimiser, the schedule, the shuffling generator and torch's global generator are restored). One file per
    :func:`train_steps` call in order (PULSE's original trains twice: the pre-train phase, then the LoRA
    fine-tune); a state is written at most once per ``every_s`` seconds and never after the last epoch."""

    def __init__(self, stem: Path, every_s: float = 30.0):
        self.stem, self.every_s, self.calls = stem, every_s, 0

    def next_path(self) -> Path:
        path = self.stem.with_name(f"{self.stem.name}.partial-{self.calls}.pt")
        self.calls += 1
        return path

    def paths(self) -> list[Path]:
        return sorted(self.stem.parent.glob(f"{self.stem.name}.partial-*.pt"))

    def discard(self) -> None:
        for path in self.paths():
            path.unlink(missing_ok=True)


_CHECKPOINTS: list[EpochCheckpoints] = []


@contextlib.contextmanager
def epoch_checkpoints(checkpoints: EpochCheckpoints | None) -> Iterator[None]:
    """Every :func:`train_steps` inside the block checkpoints its epochs in ``checkpoints`` (None: none)."""
    if checkpoints is None:
        yield
        return
    _CHECKPOINTS.append(checkpoints)
    try:
        yield
    finally:
        _CHECKPOINTS.remove(checkpoints)


def _resume_state(path: Path | None, what: str) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: train from the start
        log.warning("%s: epoch checkpoint %s unreadable (%s); training from the first epoch", what, path,
                    type(exc).__name__)
        return None


def train_steps(module: nn.Module, train: TrainConfig, *, seed: int, device: torch.device, steps_per_epoch: int,
                batches: Callable[[torch.Generator], Iterator[Any]], loss: Callable[[Any], torch.Tensor],
                desc: str = "train") -> nn.Module:
    """The supervised loop every reference model is trained with: ``train.epochs`` passes over
    ``batches(generator)``, the configured optimiser on the trainable weights, linear warm-up then
    cosine decay, one progress bar.

    A batch whose loss touches no trainable weight (text-only rows while only a vision tower and
    projector train, the language model frozen) has a zero gradient for every trainable weight: it is
    passed over as PyTorch would pass over weights without a gradient (no optimiser update; the
    schedule still advances, so it does not depend on how batches mix). Every batch being such a batch
    is an error: nothing would be trained."""
    import warnings

    module.to(device).train()
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = make_optimizer(params, train.optimizer, train.lr, weight_decay=train.weight_decay, momentum=train.momentum)
    total = max(1, steps_per_epoch * train.epochs)
    sched = lr_schedule(opt, total, train.warmup_ratio)
    stepped = skipped = first = 0
    checkpoints = _CHECKPOINTS[-1] if _CHECKPOINTS else None
    path = checkpoints.next_path() if checkpoints is not None else None
    state = _resume_state(path, desc)
    if state is not None and state.get("total") == total:
        module.load_state_dict(state["module"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        stepped, skipped, first = state["stepped"], state["skipped"], state["epochs_done"]
        log.info("%s: resumed after epoch %d of %d (epoch checkpoint)", desc, first, train.epochs)
    last_save = time.monotonic()
    with progress(total=total, initial=first * steps_per_epoch, desc=desc, unit="step") as bar, \
            divergence_guard() as guard:
        for _ in range(first):
            guard.new_epoch()
        for epoch in range(first, train.epochs):
            guard.new_epoch()
            for batch in batches(gen):
                value = loss(batch)
                guard.check_loss(value)
                opt.zero_grad(set_to_none=True)
                if value.requires_grad:
                    value.backward()
                    opt.step()
                    stepped += 1
                else:
                    skipped += 1
                with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()" on a skip
                    warnings.simplefilter("ignore", UserWarning)
                    sched.step()
                bar.update(1)
            done = epoch + 1
            if checkpoints is not None and done < train.epochs and time.monotonic() - last_save >= checkpoints.every_s:
                atomic_torch_save({"total": total, "epochs_done": done, "stepped": stepped, "skipped": skipped,
                                   "module": module.state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "generator": gen.get_state(),
                                   "torch_rng": torch.get_rng_state()}, path)
                last_save = time.monotonic()
    if skipped and not stepped:
        raise ValueError(f"{desc}: no batch's loss depends on a trainable weight ({skipped} batches): "
                         f"nothing was trained")
    module.eval()
    return module


def fit_classifier(adapter: Model, module: nn.Module, data: EncodedSplit, train: TrainConfig, *, seed: int,
                   device: torch.device, desc: str = "train") -> nn.Module:
    """Cross-entropy training with a cosine learning-rate schedule (after a linear warm-up, if set)."""
    return train_steps(module, train, seed=seed, device=device,
                       steps_per_epoch=num_batches(len(data), train.batch_size),
                       batches=lambda g: iterate_batches(data, train.batch_size, shuffle=True, generator=g,
                                                         device=device),
                       loss=lambda b: F.cross_entropy(adapter.forward(module, b.inputs), b.labels), desc=desc)
