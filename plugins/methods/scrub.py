"""SCRUB: SCalable Remembering and Unlearning unBound (Kurmanji et al., NeurIPS 2023).

Reference: ``meghdadk/SCRUB`` at 98ffb11: ``thirdparty/repdistiller/helper/loops.py`` (``train_distill``),
``thirdparty/repdistiller/distiller_zoo/KD.py`` (``DistillKL``), ``thirdparty/repdistiller/helper/util.py``
(``adjust_learning_rate``) and the notebooks that set the paper's two configurations.

Teacher = the original model; the student starts as a copy. Epoch e = 1..E does a *max-step* pass over
D_f while ``e <= max_steps``, then a *min-step* pass over D_r::

    max-step:  L = -KL_T(T(x_f) ‖ S(x_f))
    min-step:  L = gamma · CE(S(x_r), y_r) + alpha · KL_T(T(x_r) ‖ S(x_r))
    KL_T(t ‖ s) = T² · Σ softmax(t/T) · (log softmax(t/T) - log softmax(s/T)) / batch    (DistillKL)

with the learning rate multiplied by ``lr_decay_rate`` once for every entry of ``lr_decay_epochs``
that e exceeds (``lr_schedule: linear`` further decays it linearly to zero over all updates, as
MU-Bench's Trainer does; both presets are ``constant``). ``preset`` picks one of the paper's two
configurations; any parameter given explicitly overrides it:

* ``large_scale`` (``large_scale_unlearning.ipynb``, the default): SGD (momentum 0.9, weight decay 5e-4),
  lr 5e-4, alpha 0.001, gamma 0.99, T 4, 3 epochs, 2 max-steps, forget batch 512, retain batch 256,
  lr decay ×0.1 after epochs 3, 5, 9;
* ``small_scale`` (``small_scale_unlearning.ipynb``): Adam (weight decay 0.1), lr 5e-4, alpha 0.5,
  gamma 1, T 2, 10 epochs, 3 max-steps, forget batch 64, retain batch 32, lr decay ×0.1 after epochs
  5, 8, 9.

MU-Bench's own scrub trainer (``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/trainer/scrub.py``) halves the
Trainer's ``num_train_epochs`` E twice, in ``method_specific_setup`` (l.28) and again in ``unlearn`` (l.103):
E/4 epochs of max-steps on D_f, then E/4 epochs of min-steps on D_r, each a Trainer run of its own
(⌈E/4 · batches⌉ updates, its own linear decay), its KL an ``nn.KLDivLoss`` on raw logits. The MU-Bench
tasks and minis give ``scrub`` that budget rounded up to whole passes, ``epochs = max_steps = ⌈E/4⌉``,
alternating as SCRUB does, under one linear decay over all its updates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from mu_registry import (
    Method, MuError, UnlearnContext, check_lr_schedule, check_trainer_options, num_batches, unlearning_optimizer,
    unlearning_schedule)

from .bad_teacher import distill_kl

PRESETS: dict[str, dict[str, Any]] = {
    "large_scale": {"optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "weight_decay": 5e-4, "alpha": 0.001,
                    "gamma": 0.99, "kd_T": 4.0, "epochs": 3, "max_steps": 2, "forget_batch_size": 512,
                    "retain_batch_size": 256, "lr_decay_epochs": [3, 5, 9], "lr_decay_rate": 0.1,
                    "lr_schedule": "constant", "max_grad_norm": 0.0, "weight_decay_params": "all"},
    "small_scale": {"optimizer": "adam", "lr": 5e-4, "momentum": 0.9, "weight_decay": 0.1, "alpha": 0.5,
                    "gamma": 1.0, "kd_T": 2.0, "epochs": 10, "max_steps": 3, "forget_batch_size": 64,
                    "retain_batch_size": 32, "lr_decay_epochs": [5, 8, 9], "lr_decay_rate": 0.1,
                    "lr_schedule": "constant", "max_grad_norm": 0.0, "weight_decay_params": "all"},
}


def scrub_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """SCRUB's ``DistillKL``: KL(teacher ‖ student) at temperature T, summed, × T², over the batch size."""
    return distill_kl(student_logits, teacher_logits, temperature) * temperature ** 2


def decayed_lr(base: float, epoch: int, decay_epochs: list[int], rate: float) -> float:
    """``adjust_learning_rate``: base · rate^(number of decay epochs that ``epoch`` (from 1) exceeds)."""
    return base * rate ** sum(epoch > d for d in decay_epochs)


class SCRUB(Method):
    """Alternate max-steps away from the teacher on D_f and min-steps toward it on D_r."""

    @dataclass
    class Params:
        preset: str = "large_scale"
        epochs: int | None = None
        max_steps: int | None = None
        alpha: float | None = None
        gamma: float | None = None
        kd_T: float | None = None
        lr: float | None = None
        forget_batch_size: int | None = None
        retain_batch_size: int | None = None
        optimizer: str | None = None
        momentum: float | None = None
        weight_decay: float | None = None
        lr_decay_epochs: list[int] | None = field(default=None)
        lr_decay_rate: float | None = None
        lr_schedule: str | None = None
        #: gradient clipping to this global L2 norm before every update (HF Trainer's max_grad_norm); 0: none
        max_grad_norm: float | None = None
        #: which weights weight_decay applies to: "all", or "hf" (HF Trainer: not biases nor LayerNorm weights)
        weight_decay_params: str | None = None

        def __post_init__(self) -> None:
            if self.preset not in PRESETS:
                raise MuError(f"parameter 'preset' must be one of {', '.join(PRESETS)}, got '{self.preset}'")
            if self.lr_schedule is not None:
                check_lr_schedule(self.lr_schedule)
            check_trainer_options(0.0 if self.max_grad_norm is None else self.max_grad_norm,
                                  "all" if self.weight_decay_params is None else self.weight_decay_params)

    def settings(self) -> dict[str, Any]:
        """The preset's values with every explicitly given parameter in their place."""
        given = {k: v for k, v in dataclasses.asdict(self.params).items() if v is not None and k != "preset"}
        return {"preset": self.params.preset, **PRESETS[self.params.preset], **given}

    def describe(self) -> dict[str, Any]:
        return self.settings()

    def unlearn(self, ctx: UnlearnContext):
        s = self.settings()
        opt = unlearning_optimizer(ctx.model, s["optimizer"], s["lr"], weight_decay=s["weight_decay"],
                                   momentum=s["momentum"], max_grad_norm=s["max_grad_norm"],
                                   weight_decay_params=s["weight_decay_params"])
        updates = min(s["max_steps"], s["epochs"]) * num_batches(len(ctx.forget), s["forget_batch_size"]) \
            + s["epochs"] * num_batches(len(ctx.retain), s["retain_batch_size"])
        sched = unlearning_schedule(opt, s["lr_schedule"], updates)
        for epoch in range(1, s["epochs"] + 1):
            base = decayed_lr(s["lr"], epoch, s["lr_decay_epochs"], s["lr_decay_rate"])
            sched.base_lrs = [base] * len(opt.param_groups)  # the step decay sets the base the schedule scales
            for group in opt.param_groups:
                group["lr"] = base * sched.lr_lambdas[0](sched.last_epoch)
            if epoch <= s["max_steps"]:
                for f in ctx.batches(ctx.forget, batch_size=s["forget_batch_size"]):
                    with torch.no_grad():
                        teacher = ctx.logits(f, ctx.original)
                    loss = -scrub_kl(ctx.logits(f), teacher, s["kd_T"])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
            for r in ctx.batches(ctx.retain, batch_size=s["retain_batch_size"]):
                with torch.no_grad():
                    teacher = ctx.logits(r, ctx.original)
                student = ctx.logits(r)
                kl = scrub_kl(student, teacher, s["kd_T"])
                loss = s["gamma"] * F.cross_entropy(student, r.labels) + s["alpha"] * kl
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
