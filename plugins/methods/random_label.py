"""Random labelling (RL): fine-tune on D_f with corrupted labels together with D_r.

As SalUn runs its RL baseline (``OPTML-Group/Unlearn-Saliency`` at a6e89fd,
``Classification/unlearn/RL.py``) and as MU-Bench builds its training set (``CLU-UML/MU-Bench`` at
48f5c7b, ``mubench/data/base.py``, ``method_specific_transformation``: ``concatenate_datasets([df_corrupted,
dr_data])``): one epoch is one shuffled pass over the union D_f ∪ D_r, the forget examples carrying
corrupted labels ỹ::

    L = CE(f(x), y'),   (x, y') ~ {(x_f, ỹ_f)} ∪ {(x_r, y_r)}

``label_rule`` picks ỹ:

* ``uniform``: uniform over all K classes, drawn again each epoch (SalUn's ``RL.py``:
  ``np.random.randint(0, num_classes)``; it may equal the true label);
* ``next``: ``(y + 1) mod K``, fixed (MU-Bench's ``_corrupt_label``); the MU-Bench tasks use it;
* ``uniform_wrong``: uniform over the K-1 wrong classes, drawn each epoch (this project's earlier rule).

``retain: false`` trains on the corrupted D_f alone (a variant, not a reference setting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mu_registry import (
    EncodedSplit, Method, MuError, UnlearnContext, check_lr_schedule, check_trainer_options, num_batches,
    unlearning_optimizer, unlearning_schedule)

LABEL_RULES = ("uniform", "next", "uniform_wrong")


def random_wrong_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random label different from each true label."""
    offset = torch.randint(1, num_classes, labels.shape, generator=generator)
    return (labels.cpu() + offset) % num_classes


def check_label_rule(rule: str) -> None:
    if rule not in LABEL_RULES:
        raise MuError(f"parameter 'label_rule' must be one of {', '.join(LABEL_RULES)}, got '{rule}'")


def corrupt_labels(labels: torch.Tensor, num_classes: int, rule: str, generator: torch.Generator) -> torch.Tensor:
    """The forget set's training labels under ``rule`` (see the module docstring)."""
    labels = labels.cpu()
    if rule == "uniform":
        return torch.randint(0, num_classes, labels.shape, generator=generator)
    if rule == "next":
        return (labels + 1) % num_classes
    if rule == "uniform_wrong":
        return random_wrong_labels(labels, num_classes, generator)
    check_label_rule(rule)
    raise AssertionError(rule)


def union(forget: EncodedSplit, forget_labels: torch.Tensor, retain: EncodedSplit | None) -> EncodedSplit:
    """D_f with ``forget_labels`` followed by D_r (if given), as one split to batch over."""
    if retain is None:
        return EncodedSplit("forget_corrupted", forget.inputs, forget_labels.to(forget.labels.device), forget.ids)
    inputs = {k: torch.cat([forget.inputs[k], retain.inputs[k]]) for k in forget.inputs}
    labels = torch.cat([forget_labels.to(forget.labels.device), retain.labels])
    return EncodedSplit("forget_corrupted+retain", inputs, labels, np.concatenate([forget.ids, retain.ids]))


def relabelled_epochs(ctx: UnlearnContext, rule: str, epochs: int, batch_size: int, retain: bool):
    """For every epoch, its batches over D_f (corrupted) ∪ D_r, labels redrawn each epoch for random rules."""
    for _ in range(epochs):
        labels = corrupt_labels(ctx.forget.labels, ctx.num_classes, rule, ctx.generator)
        data = union(ctx.forget, labels, ctx.retain if retain else None)
        yield ctx.batches(data, batch_size=batch_size)


class RandomLabel(Method):
    """Train on D_f with corrupted labels, together with D_r, one pass over their union per epoch."""

    @dataclass
    class Params:
        epochs: int = 2
        lr: float = 5e-4
        batch_size: int = 64
        label_rule: str = "uniform"
        retain: bool = True
        optimizer: str = "adam"
        weight_decay: float = 0.0
        #: "constant", or "linear" decay to zero over all updates (MU-Bench's Trainer)
        lr_schedule: str = "constant"
        #: gradient clipping before every update to this global L2 norm (Hugging Face Trainer's max_grad_norm,
        #: 1.0 in MU-Bench's runs); 0: none
        max_grad_norm: float = 0.0
        #: which weights weight_decay applies to: "all", or "hf" (HF Trainer: not biases nor LayerNorm weights)
        weight_decay_params: str = "all"

        def __post_init__(self) -> None:
            check_label_rule(self.label_rule)
            check_lr_schedule(self.lr_schedule)
            check_trainer_options(self.max_grad_norm, self.weight_decay_params)

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = unlearning_optimizer(ctx.model, p.optimizer, p.lr, weight_decay=p.weight_decay,
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params)
        rows = len(ctx.forget) + (len(ctx.retain) if p.retain else 0)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(rows, p.batch_size))
        for epoch in relabelled_epochs(ctx, p.label_rule, p.epochs, p.batch_size, p.retain):
            for batch in epoch:
                loss = F.cross_entropy(ctx.logits(batch), batch.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
