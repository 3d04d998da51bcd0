"""ℓ1-sparse unlearning (Jia et al., NeurIPS 2023, "Model Sparsity Can Simplify Machine Unlearning").

Reference: ``OPTML-Group/Unlearn-Sparse`` at 80ba55d, ``unlearn/FT.py`` (``FT_iter`` with ``with_l1``,
run as ``FT_l1`` / ``FT_prune``), ``unlearn/impl.py`` (its SGD) and ``arg_parser.py`` (defaults).
Fine-tune on D_r with an ℓ1 penalty on all weights whose strength decays linearly **per epoch**::

    L = CE(f(x_r), y_r) + γ_e · ‖θ‖₁,   γ_e = γ · (1 - e / (E - no_l1_epochs))  for e < E - no_l1_epochs, else 0

(e = 0..E-1; with ``no_l1_epochs`` = E the penalty stays at γ). The repository's defaults: SGD with
momentum 0.9 and weight decay 5e-4, lr 0.01, 10 epochs, batch size 256 (the README's ℓ1-sparse
command: ``--unlearn_lr 0.01 --unlearn_epochs 10``); γ is given on its command line (``--alpha``),
5e-4 here as in the paper's experiments.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import (
    Method, UnlearnContext, check_lr_schedule, check_trainer_options, num_batches, unlearning_optimizer,
    unlearning_schedule)


def l1_norm(model: torch.nn.Module) -> torch.Tensor:
    """‖θ‖₁ over every parameter (``l1_regularization`` in ``FT.py``)."""
    return sum(p.abs().sum() for p in model.parameters())


def l1_weight(gamma: float, epoch: int, epochs: int, no_l1_epochs: int = 0) -> float:
    """γ_e of ``FT.py`` for epoch ``epoch`` (from 0)."""
    active = epochs - no_l1_epochs
    if epoch < active:
        return gamma * (1 - epoch / active)
    return gamma if active == 0 else 0.0


class L1Sparse(Method):
    """Fine-tune on the retain set with an ℓ1 penalty decaying linearly per epoch."""

    @dataclass
    class Params:
        epochs: int = 10
        lr: float = 0.01
        gamma: float = 5e-4
        no_l1_epochs: int = 0
        batch_size: int = 256
        optimizer: str = "sgd"
        momentum: float = 0.9
        weight_decay: float = 5e-4
        #: "constant" (Sparse's FT.py), or "linear" decay to zero over all updates (MU-Bench's Trainer)
        lr_schedule: str = "constant"
        #: gradient clipping before every update to this global L2 norm (Hugging Face Trainer's max_grad_norm,
        #: 1.0 in MU-Bench's runs); 0: none
        max_grad_norm: float = 0.0
        #: which weights weight_decay applies to: "all", or "hf" (HF Trainer: not biases nor LayerNorm weights)
        weight_decay_params: str = "all"

        def __post_init__(self) -> None:
            check_lr_schedule(self.lr_schedule)
            check_trainer_options(self.max_grad_norm, self.weight_decay_params)

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = unlearning_optimizer(ctx.model, p.optimizer, p.lr, weight_decay=p.weight_decay,
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params,
                                   momentum=p.momentum)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.retain), p.batch_size))
        for epoch in range(p.epochs):
            gamma_e = l1_weight(p.gamma, epoch, p.epochs, p.no_l1_epochs)
            for r in ctx.batches(ctx.retain, batch_size=p.batch_size):
                loss = F.cross_entropy(ctx.logits(r), r.labels)
                if gamma_e:
                    loss = loss + gamma_e * l1_norm(ctx.model)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
