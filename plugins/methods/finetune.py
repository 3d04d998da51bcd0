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

from mu_registry import (
    Method, UnlearnContext, check_lr_schedule, check_trainer_options, num_batches, unlearning_optimizer,
    unlearning_schedule)


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
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params)
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
