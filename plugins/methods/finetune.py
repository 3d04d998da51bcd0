"""Fine-tuning on the retain set (FT).

Continue training on D_r only, relying on catastrophic forgetting to erase D_f
(Warnecke et al., 2023; Golatkar et al., 2020). Loss::

    L = CE(f(x_r), y_r),  (x_r, y_r) ~ D_r

As ``OPTML-Group/Unlearn-Sparse`` at 80ba55d runs FT (``unlearn/FT.py``, ``FT_iter`` without the ℓ1
term): epochs of shuffled passes over the retain set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import check_lr_schedule, make_optimizer, num_batches, unlearning_schedule


class Finetune(Method):
    """Fine-tune on the retain set only; forgetting comes from not seeing D_f."""

    @dataclass
    class Params:
        epochs: int = 5
        lr: float = 1e-3
        batch_size: int = 64
        optimizer: str = "adam"
        weight_decay: float = 0.0
        #: "constant", or "linear" decay to zero over all updates (MU-Bench's Trainer)
        lr_schedule: str = "constant"

        def __post_init__(self) -> None:
            check_lr_schedule(self.lr_schedule)

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr, weight_decay=p.weight_decay)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.retain), p.batch_size))
        for _ in range(p.epochs):
            for batch in ctx.batches(ctx.retain, batch_size=p.batch_size):
                loss = F.cross_entropy(ctx.logits(batch), batch.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
