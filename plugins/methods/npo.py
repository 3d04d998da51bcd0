"""Negative Preference Optimization, classification form (Zhang et al., 2024).

With ℓ_θ(x, y) = -log p_θ(y | x) per forget example and the original model as
the reference::

    L = -(2 / β) · E_f[ log σ( β · (ℓ_θ(x, y) - ℓ_ref(x, y)) ) ]

At θ = θ_ref its gradient equals gradient ascent's; as the forget loss grows
each example's weight σ(-β(ℓ_θ - ℓ_ref)) shrinks, so NPO slows down instead
of diverging. β = 0.1 as in the paper (and MU-Bench). MU-Bench's code takes
the batch-mean loss inside the log-sigmoid; this follows the paper and
applies it per example.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import make_optimizer


def npo_loss(logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor, beta: float) -> torch.Tensor:
    nll = F.cross_entropy(logits, labels, reduction="none")
    ref_nll = F.cross_entropy(ref_logits, labels, reduction="none")
    return -(2.0 / beta) * F.logsigmoid(beta * (nll - ref_nll)).mean()


class NPO(Method):
    """Negative preference optimisation on the forget set against the original model."""

    @dataclass
    class Params:
        beta: float = 0.1
        epochs: int = 3
        lr: float = 1e-4
        batch_size: int = 32
        optimizer: str = "adam"
        weight_decay: float = 0.0

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr, weight_decay=p.weight_decay)
        for _ in range(p.epochs):
            for f in ctx.batches(ctx.forget, batch_size=p.batch_size):
                with torch.no_grad():
                    ref = ctx.logits(f, ctx.original)
                loss = npo_loss(ctx.logits(f), ref, f.labels, p.beta)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            ctx.end_epoch()
        return ctx.model
