"""NegGrad+ / gradient difference: ascend on the forget set, descend on the retain set.

Kurmanji et al., 2023 ("Towards Unbounded Machine Unlearning", NegGrad+);
the same objective is "GradDiff" in Liu et al., 2022 and Maini et al., 2024::

    L = alpha * CE(f(x_r), y_r) - (1 - alpha) * CE(f(x_f), y_f)

Each step pairs a forget batch with a retain batch; ``alpha = 0.5`` weighs
both equally (GradDiff), larger ``alpha`` protects the retain set more. MU-Bench
(``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/trainer/grad_diff.py``) uses ``-CE(D_f) + CE(D_r)`` on
paired batches of equal size (its ``data/base.py`` draws |D_f| retain examples): ``alpha = 0.5`` up to
a factor 2 in the loss (the same steps with Adam, which is scale-invariant).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import check_lr_schedule, make_optimizer, num_batches, unlearning_schedule


class GradDiff(Method):
    """Gradient ascent on the forget set plus gradient descent on the retain set."""

    @dataclass
    class Params:
        epochs: int = 3
        lr: float = 1e-4
        batch_size: int = 32
        alpha: float = 0.5
        optimizer: str = "adam"
        weight_decay: float = 0.0
        #: "constant", or "linear" decay to zero over all updates (MU-Bench's Trainer)
        lr_schedule: str = "constant"

        def __post_init__(self) -> None:
            check_lr_schedule(self.lr_schedule)

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr, weight_decay=p.weight_decay)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.forget), p.batch_size))
        retain_stream = ctx.cycle(ctx.retain, batch_size=p.batch_size)
        for _ in range(p.epochs):
            for f in ctx.batches(ctx.forget, batch_size=p.batch_size):
                r = next(retain_stream)
                loss = p.alpha * F.cross_entropy(ctx.logits(r), r.labels) \
                    - (1 - p.alpha) * F.cross_entropy(ctx.logits(f), f.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
