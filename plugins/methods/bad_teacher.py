"""Bad Teacher (BadT): knowledge distillation from a competent and an incompetent teacher.

Chundawat et al., AAAI 2023 ("Can Bad Teaching Induce Forgetting?"; ``vikram2000b/bad-teaching-unlearning``
at f1aa988, ``unlearn.py``: ``blindspot_unlearner``, ``UnlearnerLoss``). The student starts as the
original model. On retain examples it matches the competent teacher (the original model); on forget
examples it matches an incompetent teacher: a randomly initialised network of the same architecture
(every parameter drawn again from its initialiser, so a pretrained backbone's weights are not kept)::

    L = KL(T_bad(x_f) ‖ S(x_f)) + KL(T_good(x_r) ‖ S(x_r)),   softmax at temperature T

each KL averaged over its own rows of the batch. ``batching`` says what a batch holds:

* ``paired`` (default; this project's variant): each batch of B forget rows with a batch of B retain rows
  from a stream over all of D_r; an epoch is ⌈|D_f|/B⌉ updates.
* ``mixed`` (MU-Bench; the MU-Bench tasks and minis): ``CLU-UML/MU-Bench`` at 48f5c7b,
  ``mubench/data/base.py`` l.357-368, draws |D_f| retain rows once (``np.random.choice(..., replace=False)``)
  and interleaves them with D_f into one training set of 2|D_f| rows, which the Trainer shuffles every
  epoch; ``mubench/trainer/bad_teaching.py`` (``compute_loss_non_cl``, l.111-147) splits each batch by its
  ``is_df`` flag and adds the two KLs, each ``batchmean`` over its part. A batch of B then holds about
  B/2 rows of each and an epoch is ⌈2|D_f|/B⌉ updates. Here the |D_f| retain rows are drawn from D_r with
  the context's generator, fixed for the whole run; a batch that happens to hold rows of one kind only
  adds that kind's KL (MU-Bench would take a ``batchmean`` over no rows, NaN).

Left as they are (README, *Deviations*): MU-Bench indexes its whole training set, not D_r, with the drawn
positions (l.364: ``raw_datasets['train'][sel_idx]``), so about the deletion ratio of its "retain" rows
are forget rows; and its ``nn.KLDivLoss`` takes the raw logits of student and teacher (no softmax), which is
NaN wherever a teacher logit is negative: the KL here is between softmaxes, as in the paper's code. The
paper distils on a 30% subset of D_r. Paper defaults: 1 epoch, Adam, lr 1e-4, temperature 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mu_registry import (
    Batch, EncodedSplit, Method, MuError, UnlearnContext, check_lr_schedule, check_trainer_options, num_batches,
    unlearning_optimizer, unlearning_schedule)

from .graddiff import retain_subset


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher ‖ student) between tempered softmaxes, averaged over the batch."""
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.log_softmax(teacher_logits / temperature, dim=1), log_target=True, reduction="batchmean")


BATCHINGS = ("paired", "mixed")


def mixed_split(ctx: UnlearnContext) -> EncodedSplit:
    """MU-Bench's training set for Bad Teaching: D_f followed by |D_f| retain rows drawn once without
    replacement (rows at positions < |D_f| are forget rows)."""
    subset = retain_subset(ctx, "bad_teacher: batching 'mixed'")
    inputs = {k: torch.cat([v, subset.inputs[k]]) for k, v in ctx.forget.inputs.items()}
    return EncodedSplit("forget+retain_subset", inputs, torch.cat([ctx.forget.labels, subset.labels]),
                        np.concatenate([ctx.forget.ids, subset.ids]))


def rows(batch: Batch, keep: torch.Tensor) -> Batch:
    """The rows of ``batch`` where ``keep`` (a CPU bool mask) holds."""
    where = keep.nonzero().flatten()
    device = batch.labels.device
    return Batch({k: v.index_select(0, where.to(v.device)) for k, v in batch.inputs.items()},
                 batch.labels.index_select(0, where.to(device)), batch.positions.index_select(0, where))


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
        #: gradient clipping before every update to this global L2 norm (Hugging Face Trainer's max_grad_norm,
        #: 1.0 in MU-Bench's runs); 0: none
        max_grad_norm: float = 0.0
        #: which weights weight_decay applies to: "all", or "hf" (HF Trainer: not biases nor LayerNorm weights)
        weight_decay_params: str = "all"
        #: "paired" (a forget batch with a retain batch) or "mixed" (MU-Bench: D_f and |D_f| retain rows in
        #: one shuffled set); see the module docstring
        batching: str = "paired"

        def __post_init__(self) -> None:
            check_lr_schedule(self.lr_schedule)
            check_trainer_options(self.max_grad_norm, self.weight_decay_params)
            if self.batching not in BATCHINGS:
                raise MuError(f"parameter 'batching' must be one of {', '.join(BATCHINGS)}, got '{self.batching}'")

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        bad_teacher = ctx.random_model(ctx.seed + 1).eval()
        opt = unlearning_optimizer(ctx.model, p.optimizer, p.lr, weight_decay=p.weight_decay,
                                   max_grad_norm=p.max_grad_norm, weight_decay_params=p.weight_decay_params)
        if p.batching == "mixed":
            return self._mixed(ctx, bad_teacher, opt)
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

    def _mixed(self, ctx: UnlearnContext, bad_teacher: torch.nn.Module, opt: torch.optim.Optimizer):
        """MU-Bench's batching: shuffled batches over D_f ∪ (|D_f| retain rows), split by membership."""
        p = self.params
        data = mixed_split(ctx)
        n_forget = len(ctx.forget)
        sched = unlearning_schedule(opt, p.lr_schedule, p.epochs * num_batches(len(data), p.batch_size))
        for _ in range(p.epochs):
            for batch in ctx.batches(data, batch_size=p.batch_size):
                is_forget = batch.positions < n_forget
                loss = torch.zeros((), device=ctx.device)
                for keep, teacher in ((~is_forget, ctx.original), (is_forget, bad_teacher)):  # retain part first
                    if keep.any():
                        part = rows(batch, keep)
                        with torch.no_grad():
                            target = ctx.logits(part, teacher)
                        loss = loss + distill_kl(ctx.logits(part), target, p.temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            ctx.end_epoch()
        return ctx.model
