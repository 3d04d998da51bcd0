"""NPO: negative preference optimisation (Zhang et al., 2024); ``npo`` (formerly ``llm_npo`` for generation).

Classification (:class:`NPO`).

With ℓ_θ(x, y) = -log p_θ(y | x) per forget example and the original model as
the reference::

    L = -(2 / β) · E_f[ log σ( β · (ℓ_θ(x, y) - ℓ_ref(x, y)) ) ]

At θ = θ_ref its gradient equals gradient ascent's; as the forget loss grows
each example's weight σ(-β(ℓ_θ - ℓ_ref)) shrinks, so NPO slows down instead
of diverging. β = 0.1 as in the paper (and MU-Bench). ``reduction: per_example`` (the default) follows
the paper and applies the log-sigmoid per example; ``reduction: batch_mean`` is MU-Bench's form
(``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/trainer/npo.py``: the batch-mean losses ``outputs.loss`` go
inside one log-sigmoid per batch), which its tasks here use.

Generation (:class:`GenerativeNPO`):

    L = -(2/beta) * E[log sigmoid(-beta * (log pi_theta(y_f|x_f) - log pi_ref(y_f|x_f)))]
        + retain_weight * NLL(y_r | x_r)

Sequence log-likelihoods summed over answer tokens (MLUBench ``llava_trainer.py`` ``npo``). pi_ref is the
frozen reference of ``reference_model``: ``request_start`` (the model the request starts from; MLUBench's
``train.py`` l.1169-1177 loads its oracle from the trained model's own path, and the MLUBench tasks set it) or
``original`` (the model before any unlearning, the parameter's default). beta defaults to 5 (MLUBench's
setting). ``retain_weight`` 0 is plain NPO as PULSE runs it; 1 is the paper's NPO-RT.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import (
    GenerativeMethod, Method, MuError, UnlearnContext, check_lr_schedule, check_trainer_options, losses, num_batches,
    unlearning_optimizer, unlearning_schedule)


def npo_loss(logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor, beta: float,
             reduction: str = "per_example") -> torch.Tensor:
    """-(2/β)·mean log σ(β(ℓ_θ - ℓ_ref)): per example, or on the batch-mean losses (MU-Bench)."""
    kind = "none" if reduction == "per_example" else "mean"
    nll = F.cross_entropy(logits, labels, reduction=kind)
    ref_nll = F.cross_entropy(ref_logits, labels, reduction=kind)
    return -(2.0 / beta) * F.logsigmoid(beta * (nll - ref_nll)).mean()


class NPO(Method):
    """Negative preference optimisation on the forget set against the original model."""

    @dataclass
    class Params:
        beta: float = 0.1
        epochs: int = 3
        lr: float = 1e-4
        batch_size: int = 32
        optimizer: str = "adam"
        weight_decay: float = 0.0
        reduction: str = "per_example"
        #: "constant", or "linear" decay to zero over all updates (MU-Bench's Trainer)
        lr_schedule: str = "constant"
        #: gradient clipping before every update to this global L2 norm (Hugging Face Trainer's max_grad_norm,
        #: 1.0 in MU-Bench's runs); 0: none
        max_grad_norm: float = 0.0
        #: which weights weight_decay applies to: "all", or "hf" (HF Trainer: not biases nor LayerNorm weights)
        weight_decay_params: str = "all"

        def __post_init__(self) -> None:
            if self.reduction not in ("per_example", "batch_mean"):
                raise MuError(f"parameter 'reduction' must be per_example or batch_mean, got '{self.reduction}'")
            check_lr_schedule(self.lr_schedule)
            check_trainer_options(self.max_grad_norm, self.weight_decay_params)

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = unlearning_optimizer(ctx.model, p.optimizer, p.lr, weight_decay=p.weight_decay,
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.forget), p.batch_size))
        for _ in range(p.epochs):
            for f in ctx.batches(ctx.forget, batch_size=p.batch_size):
                with torch.no_grad():
                    ref = ctx.logits(f, ctx.original)
                loss = npo_loss(ctx.logits(f), ref, f.labels, p.beta, p.reduction)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model


class GenerativeNPO(GenerativeMethod):
    """NPO (negative preference optimisation; Zhang et al. 2024) for generative models."""

    @dataclass
    class Params(GenerativeMethod.Params):
        beta: float = 5.0
        retain_weight: float = 0.0

    def loss(self, ctx, forget, retain):
        loss = losses.npo(ctx.logits(forget), ctx.reference_logits(forget), forget.labels, beta=self.params.beta)
        if retain is not None and self.params.retain_weight:
            loss = loss + self.params.retain_weight * losses.answer_nll(ctx.logits(retain), retain.labels)
        return loss
