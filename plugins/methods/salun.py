"""SalUn: saliency-based unlearning (Fan et al., ICLR 2024), as its released code runs it.

References: ``OPTML-Group/Unlearn-Saliency`` at a6e89fd, ``Classification/generate_mask.py``
(``save_gradient_ratio``) and ``Classification/unlearn/RL.py``; MU-Bench (``CLU-UML/MU-Bench`` at 48f5c7b,
``mubench/trainer/salun.py``) computes the same mask.

1. Weight saliency, with the model in **eval mode**: the gradient of the batch-mean forgetting loss,
   summed over the batches of D_f, in absolute value. The mask keeps exactly the top ``sparsity``
   fraction of all weights (``int(sparsity * n)`` of them, one global ranking; ties are broken by
   position, as ``torch.argsort`` of the negated saliencies does in the reference). Default 0.5, the
   value MU-Bench fixes and SalUn's scripts use.
2. Random labelling restricted to the mask: one epoch is a shuffled pass over D_f (corrupted labels,
   see :mod:`.random_label`) ∪ D_r; after each step the weights outside the mask are put back to their
   value before unlearning (``_restore_masked_params`` in ``RL.py``), so weight decay or momentum
   cannot move them either::

       θ ← m ⊙ (θ - lr · ∇L) + (1 - m) ⊙ θ₀
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import (
    Method, UnlearnContext, check_lr_schedule, check_trainer_options, num_batches, unlearning_optimizer,
    unlearning_schedule)

from .random_label import check_label_rule, relabelled_epochs


def top_fraction_mask(saliency: dict[str, torch.Tensor], fraction: float) -> dict[str, torch.Tensor]:
    """1 for exactly ``int(fraction * n)`` weights with the largest saliency (ties by position), else 0."""
    flat = torch.cat([s.flatten() for s in saliency.values()])
    k = int(len(flat) * fraction)
    chosen = torch.zeros(len(flat), dtype=torch.bool)
    chosen[torch.argsort(-flat, stable=True)[:k]] = True
    out, start = {}, 0
    for name, s in saliency.items():
        out[name] = chosen[start:start + s.numel()].reshape(s.shape).to(s.dtype)
        start += s.numel()
    return out


def saliency_mask(ctx: UnlearnContext, sparsity: float, batch_size: int) -> dict[str, torch.Tensor]:
    """SalUn's mask: |Σ_batches ∇ mean CE(D_f batch)| in eval mode, top ``sparsity`` fraction kept."""
    was_training = ctx.model.training
    ctx.model.eval()
    params = {n: p for n, p in ctx.model.named_parameters() if p.requires_grad}
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    for batch in ctx.batches(ctx.forget, batch_size=batch_size, shuffle=False):
        ctx.model.zero_grad(set_to_none=True)
        (-F.cross_entropy(ctx.logits(batch), batch.labels)).backward()
        for n, p in params.items():
            if p.grad is not None:
                grads[n] += p.grad
    ctx.model.zero_grad(set_to_none=True)
    ctx.model.train(was_training)
    mask = top_fraction_mask({n: g.abs().cpu() for n, g in grads.items()}, sparsity)
    return {n: m.to(params[n].device) for n, m in mask.items()}


class SalUn(Method):
    """Random labelling on the salient weights only (gradient-saliency mask)."""

    @dataclass
    class Params:
        sparsity: float = 0.5
        epochs: int = 2
        lr: float = 5e-4
        batch_size: int = 64
        label_rule: str = "uniform"
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
        mask = saliency_mask(ctx, p.sparsity, p.batch_size)
        named = dict(ctx.model.named_parameters())
        theta0 = {n: named[n].detach().clone() for n in mask}
        opt = unlearning_optimizer(ctx.model, p.optimizer, p.lr, weight_decay=p.weight_decay,
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params)
        rows = len(ctx.forget) + (len(ctx.retain) if True else 0)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(rows, p.batch_size))
        for epoch in relabelled_epochs(ctx, p.label_rule, p.epochs, p.batch_size, retain=True):
            for batch in epoch:
                loss = F.cross_entropy(ctx.logits(batch), batch.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                for name, m in mask.items():
                    if named[name].grad is not None:
                        named[name].grad.mul_(m)
                opt.step()
                sched.step()
                with torch.no_grad():
                    for name, m in mask.items():
                        named[name].mul_(m).add_(theta0[name] * (1 - m))
            ctx.end_epoch()
        return ctx.model
