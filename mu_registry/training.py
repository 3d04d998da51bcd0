"""Shared training helpers: batching, optimisers, and the supervised loop."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from .method import Batch
from .progress import progress
from .task_config import TrainConfig

if TYPE_CHECKING:
    from .model import EncodedSplit, Model


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
        from .errors import MuError

        raise MuError(f"parameter 'lr_schedule' must be one of {', '.join(LR_SCHEDULES)}, got '{name}'")


def num_batches(rows: int, batch_size: int) -> int:
    """Batches in one pass over ``rows`` rows (the last one may be short, as a DataLoader without drop_last);
    0 for no rows."""
    return -(-int(rows) // batch_size)


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
    stepped = skipped = 0
    with progress(total=total, desc=desc, unit="step") as bar, divergence_guard() as guard:
        for _ in range(train.epochs):
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
