"""GA: gradient ascent on the forget set (``ga``; "NegGrad" in MU-Bench, formerly ``neggrad`` here).

Classification (:class:`GA`): maximise the training loss on D_f (Golatkar et al., 2020; Thudi et al., 2022)::

    L = -CE(f(x_f), y_f),  (x_f, y_f) ~ D_f

As MU-Bench runs it (``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/trainer/grad_ascent.py``: the negated
batch-mean loss on the forget set, ``neggrad`` and ``grad_ascent`` naming the same trainer) and as
``OPTML-Group/Unlearn-Sparse`` at 80ba55d, ``unlearn/GA.py``. Gradient ascent is unbounded, so it runs for a
fixed small budget; the defaults are tuned for the offline tasks' small CNN.

Generation (:class:`GenerativeGA`): maximise the forget answers' token-mean NLL::

    L = -NLL(y_f | x_f)          over answer tokens only (prompt and image tokens masked)

Trained as a LoRA adapter (MLUBench's r=32, alpha=32, dropout 0.3; lr 5e-5, 5 epochs). GA has no
retain term, which is why it degrades the model as requests accumulate.
"""


from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from mu_registry import (
    GenerativeMethod, Method, UnlearnContext, check_lr_schedule, check_trainer_options, losses, num_batches,
    unlearning_optimizer, unlearning_schedule)


class GA(Method):
    """Gradient ascent on the forget set."""

    @dataclass
    class Params:
        epochs: int = 2
        lr: float = 1e-4
        batch_size: int = 32
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
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.forget), p.batch_size))
        for _ in range(p.epochs):
            for batch in ctx.batches(ctx.forget, batch_size=p.batch_size):
                loss = -F.cross_entropy(ctx.logits(batch), batch.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model


class GenerativeGA(GenerativeMethod):
    """GA (gradient ascent) for generative models: maximise the forget answers' token-mean NLL."""

    def loss(self, ctx, forget, retain):
        return losses.gradient_ascent(ctx.logits(forget), forget.labels)
