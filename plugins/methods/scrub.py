"""SCRUB: SCalable Remembering and Unlearning unBound (Kurmanji et al., NeurIPS 2023).

Teacher = the original model; the student starts as a copy. Each epoch does
a *max-step* on D_f (while ``epoch < max_steps``), pushing the student away
from the teacher, then a *min-step* on D_r, keeping it close and accurate::

    max-step:  L = -KL(T(x_f) ‖ S(x_f))
    min-step:  L = alpha · KL(T(x_r) ‖ S(x_r)) + gamma · CE(S(x_r), y_r)

KL on softmaxes at temperature ``kd_T``. Defaults are the paper's small-scale
settings (alpha 0.001, gamma 0.99, kd_T 4, 3 epochs with 2 max-steps, SGD,
lr 5e-4, momentum 0.9, weight decay 5e-4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import make_optimizer

from .bad_teacher import distill_kl


class SCRUB(Method):
    """Alternate max-steps away from the teacher on D_f and min-steps toward it on D_r."""

    @dataclass
    class Params:
        epochs: int = 3
        max_steps: int = 2
        alpha: float = 0.001
        gamma: float = 0.99
        kd_T: float = 4.0
        lr: float = 5e-4
        batch_size: int = 64
        optimizer: str = "sgd"
        weight_decay: float = 5e-4

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr, weight_decay=p.weight_decay)
        for epoch in range(p.epochs):
            if epoch < p.max_steps:
                for f in ctx.batches(ctx.forget, batch_size=p.batch_size):
                    with torch.no_grad():
                        teacher = ctx.logits(f, ctx.original)
                    loss = -distill_kl(ctx.logits(f), teacher, p.kd_T)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            for r in ctx.batches(ctx.retain, batch_size=p.batch_size):
                with torch.no_grad():
                    teacher = ctx.logits(r, ctx.original)
                student = ctx.logits(r)
                loss = p.alpha * distill_kl(student, teacher, p.kd_T) + p.gamma * F.cross_entropy(student, r.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return ctx.model
