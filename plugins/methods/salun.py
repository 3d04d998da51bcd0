"""SalUn: saliency-based unlearning (Fan et al., ICLR 2024).

1. Weight saliency: the gradient of the forgetting loss on D_f, accumulated
   over the forget set, in absolute value; the mask ``m`` keeps the
   ``sparsity`` fraction of weights with the largest saliency, one global
   threshold over all parameters (the paper's and MU-Bench's default: 50%).
2. Random labelling restricted to the mask::

       L = CE(f(x_f), ỹ_f) + CE(f(x_r), y_r),   θ ← θ - lr · (m ⊙ ∇L)

Weights outside the mask never change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import make_optimizer

from .random_label import random_wrong_labels


def saliency_mask(ctx: UnlearnContext, sparsity: float, batch_size: int) -> dict[str, torch.Tensor]:
    """1 for the ``sparsity`` fraction of parameters with the largest |∂ CE(D_f) / ∂θ|, else 0."""
    params = {n: p for n, p in ctx.model.named_parameters() if p.requires_grad}
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    for batch in ctx.batches(ctx.forget, batch_size=batch_size, shuffle=False):
        ctx.model.zero_grad(set_to_none=True)
        F.cross_entropy(ctx.logits(batch), batch.labels, reduction="sum").backward()
        for n, p in params.items():
            if p.grad is not None:
                grads[n] += p.grad
    ctx.model.zero_grad(set_to_none=True)
    flat = torch.cat([g.abs().flatten() for g in grads.values()])
    k = int(round(sparsity * flat.numel()))
    if k <= 0:
        return {n: torch.zeros_like(g) for n, g in grads.items()}
    threshold = torch.topk(flat, k, sorted=False).values.min()
    return {n: (g.abs() >= threshold).to(g.dtype) for n, g in grads.items()}


class SalUn(Method):
    """Random labelling on the salient weights only (gradient-saliency mask)."""

    @dataclass
    class Params:
        sparsity: float = 0.5
        epochs: int = 2
        lr: float = 5e-4
        batch_size: int = 64
        optimizer: str = "adam"

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        mask = saliency_mask(ctx, p.sparsity, p.batch_size)
        named = dict(ctx.model.named_parameters())
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr)  # no weight decay: masked weights stay put
        retain_stream = ctx.cycle(ctx.retain, batch_size=p.batch_size)
        for f in ctx.batches(ctx.forget, batch_size=p.batch_size, epochs=p.epochs):
            r = next(retain_stream)
            wrong = random_wrong_labels(f.labels, ctx.num_classes, ctx.generator).to(f.labels.device)
            loss = F.cross_entropy(ctx.logits(f), wrong) + F.cross_entropy(ctx.logits(r), r.labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for name, m in mask.items():
                if named[name].grad is not None:
                    named[name].grad.mul_(m)
            opt.step()
        return ctx.model
