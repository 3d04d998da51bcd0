"""ℓ1-sparse unlearning (Jia et al., NeurIPS 2023, "Model Sparsity Can Simplify Machine Unlearning").

Fine-tune on D_r with an ℓ1 penalty whose weight decays linearly to zero::

    L = CE(f(x_r), y_r) + γ_t ‖θ‖₁,   γ_t = γ · (1 - t / T)

Paper defaults: γ = 5e-4, 10 epochs, SGD with lr 0.01 (momentum 0.9).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import make_optimizer


def l1_norm(model: torch.nn.Module) -> torch.Tensor:
    return sum(p.abs().sum() for p in model.parameters() if p.requires_grad)


class L1Sparse(Method):
    """Fine-tune on the retain set with a linearly decaying ℓ1 penalty."""

    @dataclass
    class Params:
        epochs: int = 10
        lr: float = 0.01
        gamma: float = 5e-4
        batch_size: int = 64
        optimizer: str = "sgd"

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr)
        steps_per_epoch = -(-len(ctx.retain) // p.batch_size)
        total = max(1, steps_per_epoch * p.epochs)
        for step, r in enumerate(ctx.batches(ctx.retain, batch_size=p.batch_size, epochs=p.epochs)):
            gamma_t = p.gamma * (1 - step / total)
            loss = F.cross_entropy(ctx.logits(r), r.labels) + gamma_t * l1_norm(ctx.model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return ctx.model
