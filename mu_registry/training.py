"""Shared training helpers: batching, optimisers, and the supervised loop."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from .method import Batch
from .progress import progress
from .task_config import TrainConfig

if TYPE_CHECKING:
    from .model import EncodedSplit, Model


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


def train_steps(module: nn.Module, train: TrainConfig, *, seed: int, device: torch.device, steps_per_epoch: int,
                batches: Callable[[torch.Generator], Iterator[Any]], loss: Callable[[Any], torch.Tensor],
                desc: str = "train") -> nn.Module:
    """The supervised loop every reference model is trained with: ``train.epochs`` passes over
    ``batches(generator)``, the configured optimiser on the trainable weights, linear warm-up then
    cosine decay, one progress bar."""
    module.to(device).train()
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = make_optimizer(params, train.optimizer, train.lr, weight_decay=train.weight_decay, momentum=train.momentum)
    total = max(1, steps_per_epoch * train.epochs)
    sched = lr_schedule(opt, total, train.warmup_ratio)
    with progress(total=total, desc=desc, unit="step") as bar:
        for _ in range(train.epochs):
            for batch in batches(gen):
                value = loss(batch)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                sched.step()
                bar.update(1)
    module.eval()
    return module


def fit_classifier(adapter: Model, module: nn.Module, data: EncodedSplit, train: TrainConfig, *, seed: int,
                   device: torch.device, desc: str = "train") -> nn.Module:
    """Cross-entropy training with a cosine learning-rate schedule (after a linear warm-up, if set)."""
    return train_steps(module, train, seed=seed, device=device, steps_per_epoch=-(-len(data) // train.batch_size),
                       batches=lambda g: iterate_batches(data, train.batch_size, shuffle=True, generator=g,
                                                         device=device),
                       loss=lambda b: F.cross_entropy(adapter.forward(module, b.inputs), b.labels), desc=desc)
