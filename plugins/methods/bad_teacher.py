"""Bad Teacher (BadT): knowledge distillation from a competent and an incompetent teacher.

Chundawat et al., AAAI 2023 ("Can Bad Teaching Induce Forgetting?"; ``vikram2000b/bad-teaching-unlearning``
at f1aa988, ``unlearn.py``: ``blindspot_unlearner``, ``UnlearnerLoss``). The student starts as the
original model. On retain examples it matches the competent teacher (the original model); on forget
examples it matches an incompetent teacher: a randomly initialised network of the same architecture
(every parameter drawn again from its initialiser, so a pretrained backbone's weights are not kept)::

    L = KL(T_bad(x_f) ‖ S(x_f)) + KL(T_good(x_r) ‖ S(x_r)),   softmax at temperature T

Each forget batch is paired with a retain batch of the same size (MU-Bench
pairs |D_f| retain examples; the paper uses a 30% subset of D_r). Paper
defaults: 1 epoch, Adam, lr 1e-4, temperature 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import check_lr_schedule, make_optimizer, num_batches, unlearning_schedule


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher ‖ student) between tempered softmaxes, averaged over the batch."""
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.log_softmax(teacher_logits / temperature, dim=1), log_target=True, reduction="batchmean")


class BadTeacher(Method):
    """Distil from the original on D_r and from a random network on D_f."""

    @dataclass
    class Params:
        epochs: int = 1
        lr: float = 1e-4
        batch_size: int = 32
        temperature: float = 1.0
        optimizer: str = "adam"
        weight_decay: float = 0.0
        #: "constant", or "linear" decay to zero over all updates (MU-Bench's Trainer)
        lr_schedule: str = "constant"

        def __post_init__(self) -> None:
            check_lr_schedule(self.lr_schedule)

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        bad_teacher = ctx.random_model(ctx.seed + 1).eval()
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr, weight_decay=p.weight_decay)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.forget), p.batch_size))
        retain_stream = ctx.cycle(ctx.retain, batch_size=p.batch_size)
        for _ in range(p.epochs):
            for f in ctx.batches(ctx.forget, batch_size=p.batch_size):
                r = next(retain_stream)
                with torch.no_grad():
                    bad, good = ctx.logits(f, bad_teacher), ctx.logits(r, ctx.original)
                loss = distill_kl(ctx.logits(f), bad, p.temperature) + distill_kl(ctx.logits(r), good, p.temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
