"""GradDiff (gradient difference; NegGrad+): ascend on the forget set, descend on the retain set (``graddiff``).

Classification (:class:`GradDiff`).

Kurmanji et al., 2023 ("Towards Unbounded Machine Unlearning", NegGrad+);
the same objective is "GradDiff" in Liu et al., 2022 and Maini et al., 2024::

    L = loss_scale · (alpha · CE(f(x_r), y_r) - (1 - alpha) · CE(f(x_f), y_f))

Each step pairs a batch of B forget rows with B retain rows; an epoch is ⌈|D_f|/B⌉ updates. ``alpha = 0.5``
weighs both equally (GradDiff), larger ``alpha`` protects the retain set more. ``retain_pairing`` says which
retain rows:

* ``stream`` (default): a shuffled stream over all of D_r, so successive epochs see new retain rows.
* ``fixed`` (MU-Bench; the MU-Bench tasks and minis): ``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/data/base.py``
  l.301-312 (``method_specific_transformation``, ``grad_diff``) draws |D_f| rows of D_r once
  (``np.random.choice(..., replace=False)``) and joins them column-wise to D_f
  (``concatenate_datasets([dr_subset, df_data], axis=1)``): forget row i always comes with the same retain
  row, and only those |D_f| retain rows are ever seen. Drawn here with the context's generator.

MU-Bench's loss (``mubench/trainer/grad_diff.py``, ``compute_loss_non_cl``: ``-df_outputs.loss +
dr_outputs.loss``, both batch means) is ``alpha = 0.5`` with ``loss_scale = 2``. The factor only matters
once gradients are clipped (``max_grad_norm``): Adam's update is otherwise the same for any constant scale.
MU-Bench's classification data path (``prepare_unlearning_data``, l.316-386) has no ``grad_diff`` branch and
its ``gen_config.py`` files do not run it on the classification datasets: l.301-312 (its TOFU path) is the
only pairing it defines.

Generation (:class:`GenerativeGradDiff`; formerly ``gd``, and ``ga_klr`` for ``retain_loss: kl``)::

    retain_loss nll:  L = -NLL(y_f | x_f) + retain_weight * NLL(y_r | x_r)
    retain_loss kl:   L = -NLL(y_f | x_f) + retain_weight * KL(p_ref(. | x_r) || p_theta(. | x_r))

``retain_loss: kl`` is PULSE's "GA+KLR" and MLUBench's "KL" (open-unlearning expresses it the same way:
``GradDiff`` with ``retain_loss_type: KL``, ``configs/trainer/GradDiff.yaml``).
The KL is summed over the vocabulary and averaged over every position of the retain batch (prompt,
image and padding positions too), ``F.kl_div(..., reduction="batchmean", log_target=True)`` on the
flattened logits, as the reference code computes it: TOFU ``locuslab/tofu`` @ bdc209ea, ``dataloader.py``
(``KL``); open-unlearning ``locuslab/open-unlearning`` @ d3d7cf9e, ``src/trainer/utils.py``
(``compute_kl_divergence``); MLUBench ``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8,
``LLaVA_unlearning_main.zip:llava/train/llava_trainer.py`` (``KL``). ``kl_positions: answer`` is the
variant that averages over answer tokens only. The reference is the frozen model of ``reference_model``:
``request_start`` (the model the request starts from, as MLUBench's ``train.py`` l.1169-1177 loads its
oracle; the MLUBench tasks set it) or ``original`` (the model before any unlearning; the default).

"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import (
    Batch, EncodedSplit, GenerativeMethod, Method, MuError, UnlearnContext, check_lr_schedule, check_trainer_options,
    losses, num_batches, unlearning_optimizer, unlearning_schedule)


PAIRINGS = ("stream", "fixed")


def retain_subset(ctx: UnlearnContext, what: str) -> EncodedSplit:
    """|D_f| rows of D_r drawn once, without replacement, with the context's generator (MU-Bench's
    ``np.random.choice(np.arange(|D_r|), |D_f|, replace=False)``); ``what`` names the option in an error."""
    n = len(ctx.forget)
    if len(ctx.retain) < n:
        raise MuError(f"{what} draws |D_f| = {n} retain rows without replacement, but the retain set has "
                      f"{len(ctx.retain)}")
    pick = torch.randperm(len(ctx.retain), generator=ctx.generator)[:n]
    inputs = {k: v.index_select(0, pick.to(v.device)) for k, v in ctx.retain.inputs.items()}
    return EncodedSplit("retain_subset", inputs, ctx.retain.labels.index_select(0, pick.to(ctx.retain.labels.device)),
                        ctx.retain.ids[pick.numpy()])


def partner_batch(partner: EncodedSplit, forget_batch: Batch, device: torch.device) -> Batch:
    """The retain partners of ``forget_batch``'s rows, in the same order."""
    pos = forget_batch.positions
    return Batch({k: v.index_select(0, pos.to(v.device)).to(device) for k, v in partner.inputs.items()},
                 partner.labels.index_select(0, pos.to(partner.labels.device)).to(device), pos)


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
        #: gradient clipping before every update to this global L2 norm (Hugging Face Trainer's max_grad_norm,
        #: 1.0 in MU-Bench's runs); 0: none
        max_grad_norm: float = 0.0
        #: which weights weight_decay applies to: "all", or "hf" (HF Trainer: not biases nor LayerNorm weights)
        weight_decay_params: str = "all"
        #: "stream" (all of D_r) or "fixed" (MU-Bench: |D_f| retain rows, one per forget row); see above
        retain_pairing: str = "stream"
        #: multiplies the loss (2 with alpha 0.5: MU-Bench's -CE_f + CE_r)
        loss_scale: float = 1.0

        def __post_init__(self) -> None:
            check_lr_schedule(self.lr_schedule)
            check_trainer_options(self.max_grad_norm, self.weight_decay_params)
            if self.retain_pairing not in PAIRINGS:
                raise MuError(f"parameter 'retain_pairing' must be one of {', '.join(PAIRINGS)}, "
                              f"got '{self.retain_pairing}'")
            if not self.loss_scale > 0:
                raise MuError(f"parameter 'loss_scale' must be > 0, got {self.loss_scale}")

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = unlearning_optimizer(ctx.model, p.optimizer, p.lr, weight_decay=p.weight_decay,
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(ctx.forget), p.batch_size))
        partner = retain_subset(ctx, "graddiff: retain_pairing 'fixed'") if p.retain_pairing == "fixed" else None
        stream = ctx.cycle(ctx.retain, batch_size=p.batch_size) if partner is None else None
        for _ in range(p.epochs):
            for f in ctx.batches(ctx.forget, batch_size=p.batch_size):
                r = next(stream) if partner is None else partner_batch(partner, f, ctx.device)
                loss = p.loss_scale * (p.alpha * F.cross_entropy(ctx.logits(r), r.labels)
                                       - (1 - p.alpha) * F.cross_entropy(ctx.logits(f), f.labels))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model


class GenerativeGradDiff(GenerativeMethod):
    """GradDiff for generative models: ascent on the forget answers, a retain term (NLL or KL) on the rest."""

    @dataclass
    class Params(GenerativeMethod.Params):
        #: "nll" (gradient difference; formerly ``gd``) or "kl" (GA+KLR / KL; formerly ``ga_klr``)
        retain_loss: str = "nll"
        retain_weight: float = 1.0
        #: retain_loss kl: "all" (the reference code: every position of the retain batch) or "answer" (a variant)
        kl_positions: str = "all"
        #: deprecated: ``ga_klr``'s name for retain_weight (used when set)
        kl_weight: float | None = None

    def __init__(self, params=None, **overrides):
        super().__init__(params, **overrides)
        if self.params.retain_loss not in ("nll", "kl"):
            raise MuError(f"method 'graddiff': retain_loss must be 'nll' or 'kl', got '{self.params.retain_loss}'")
        if self.params.kl_positions not in ("all", "answer"):
            raise MuError(f"method 'graddiff': kl_positions must be 'all' or 'answer', got "
                          f"'{self.params.kl_positions}'")

    def loss(self, ctx, forget, retain):
        p = self.params
        if p.retain_loss == "kl":
            if retain is None:
                return losses.gradient_ascent(ctx.logits(forget), forget.labels)
            weight = p.kl_weight if p.kl_weight is not None else p.retain_weight
            return losses.ga_klr(ctx.logits(forget), forget.labels, ctx.logits(retain), ctx.reference_logits(retain),
                                 retain.labels, kl_weight=weight, positions=p.kl_positions)
        if retain is None:
            return -losses.answer_nll(ctx.logits(forget), forget.labels)
        return losses.grad_diff(ctx.logits(forget), forget.labels, ctx.logits(retain), retain.labels,
                                retain_weight=p.retain_weight)
