"""Losses of the LLM / multimodal-LLM unlearning methods, as their papers state them.

Shared by the LLM unlearning methods (GA, GA+KLR, GradDiff, NPO, SimNPO, IdK, MLUBench's PO, DPO/IdkDPO,
RMU). Every function takes a causal LM's ``logits`` (batch × length × vocab) and ``labels``
(batch × length) in the transformers convention: ``labels[t]`` is the token at position ``t``,
predicted from position ``t-1``, and ``-100`` marks a position that is not scored (the prompt,
image tokens, padding). Only answer tokens count.

References: NPO: Zhang et al. 2024, "Negative Preference Optimization"; SimNPO: Fan et al. 2024,
"Simplicity Prevails"; IdK and IdkDPO: Maini et al. 2024 (TOFU); DPO: Rafailov et al. 2023;
RMU: Li et al. 2024 (WMDP); GA+KLR: the KL-to-the-frozen-model regulariser used by TOFU and PULSE.

Each loss computes what the papers' released code computes (checked against, and pinned by
hand-computed tests in ``tests/test_llm_losses.py``):

* ``locuslab/open-unlearning`` @ d3d7cf9e6b3c125d16687d4232680d8d83548f1a, ``src/trainer/utils.py``
  (``compute_batch_nll``, ``compute_dpo_loss``, ``compute_kl_divergence``), ``src/trainer/unlearn/``
  (``grad_diff.py``, ``npo.py``, ``dpo.py``, ``simnpo.py``) and ``configs/trainer/*.yaml``;
* ``locuslab/tofu`` @ bdc209ea7c6cc2e7079ea1afb6468d3ddcc65f8e, ``dataloader.py`` (``KL``, ``dpo``, ``idk``);
* ``OPTML-Group/Unlearn-Simple`` @ f1a355d3cb16cdaa2dfbda163a2e954c67886a4c, ``TOFU/dataloader.py``
  (``simnpo_grad_diff``) and ``TOFU/config/forget.yaml``;
* ``centerforaisafety/wmdp`` ``rmu/unlearn.py`` (read from the unmodified copy in
  ``hkhanuja/Unlearning`` @ 5a586f575ee1c7e6e4036fb42261f87792c9eb26, ``rmu/unlearn.py``);
* MLUBench's ``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
  ``LLaVA_unlearning_main.zip``: ``llava/train/llava_trainer.py`` (``compute_loss``: ``grad_ascent``,
  ``grad_diff``, ``KL``, ``npo``, ``po``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100


def _shifted(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits at t-1 aligned with the token at t; the mask of scored tokens; labels with ignored set to 0."""
    logits = logits[:, :-1, :]
    labels = labels[:, 1:]
    mask = labels != IGNORE
    return logits, labels.masked_fill(~mask, 0), mask


def sequence_logprob(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sequence: the summed log-probability of its answer tokens, and how many there are."""
    logits, labels, mask = _shifted(logits, labels)
    token_lp = torch.gather(F.log_softmax(logits.float(), dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
    return (token_lp * mask).sum(dim=1), mask.sum(dim=1)


def _nll_total(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The NLL summed over every answer token of the batch, and how many tokens that is."""
    logits, labels, mask = _shifted(logits, labels)
    nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
    return (nll * mask.reshape(-1)).sum(), mask.sum()


def answer_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Token-mean negative log-likelihood over the answer tokens of the batch (the fine-tuning loss)."""
    total, count = _nll_total(logits, labels)
    return total / count.clamp(min=1)


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The batch mean of each sequence's answer NLL summed over its tokens (``get_batch_loss(...).mean()``
    in MLUBench's ``llava_trainer.py``; open-unlearning's ``compute_batch_nll``)."""
    lp, _ = sequence_logprob(logits, labels)
    return -lp.mean()


def refusal_nll(refusal_logits: torch.Tensor, refusal_labels: torch.Tensor) -> torch.Tensor:
    """MLUBench's PO (``--loss_type po``), which is also LUMoE's expert loss: the NLL of a refusal answer to each
    forget question, summed over the answer's tokens and averaged over the batch, no retain term. MLUBench
    ``llava_trainer.py`` l.258-293 (``po`` branch of ``compute_loss``) computes a DPO loss, prints it, and
    returns ``-idk_loss_current.mean()``, ``idk_loss_current = -get_batch_loss(...)`` (l.103-111: the
    ``CrossEntropyLoss(reduction='none')`` of each sequence summed over its tokens)."""
    return sequence_nll(refusal_logits, refusal_labels)


po = refusal_nll


def gradient_ascent(forget_logits: torch.Tensor, forget_labels: torch.Tensor) -> torch.Tensor:
    """GA: maximise the forget answers' NLL, i.e. minimise its negative."""
    return -answer_nll(forget_logits, forget_labels)


def grad_diff(forget_logits: torch.Tensor, forget_labels: torch.Tensor, retain_logits: torch.Tensor,
              retain_labels: torch.Tensor, retain_weight: float = 1.0) -> torch.Tensor:
    """GradDiff: ascent on the forget answers plus descent on the retain answers."""
    return -answer_nll(forget_logits, forget_labels) + retain_weight * answer_nll(retain_logits, retain_labels)


def kl_all_positions(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_ref || p_model) summed over the vocabulary and averaged over every position of the batch
    (prompt, image and padding positions included): ``F.kl_div(log p_model, log p_ref, reduction="batchmean",
    log_target=True)`` on the logits flattened to (batch·length) × vocab, as TOFU ``dataloader.py`` (``KL``),
    open-unlearning ``compute_kl_divergence`` and MLUBench ``llava_trainer.py`` (``KL``) compute it."""
    vocab = logits.shape[-1]
    cur = F.log_softmax(logits.float(), dim=-1).reshape(-1, vocab)
    ref = F.log_softmax(ref_logits.float(), dim=-1).reshape(-1, vocab)
    return F.kl_div(cur, ref.detach(), reduction="batchmean", log_target=True)


def kl_to_reference(logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """KL(p_ref || p_model) per answer token, averaged over answer tokens only: the variant
    ``kl_positions: answer`` of GA+KLR (not what the reference code computes; see ``kl_all_positions``)."""
    logits, _, mask = _shifted(logits, labels)
    ref = ref_logits[:, :-1, :]
    ref_logp = F.log_softmax(ref.float(), dim=-1)
    kl = (ref_logp.exp() * (ref_logp - F.log_softmax(logits.float(), dim=-1))).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1)


def ga_klr(forget_logits: torch.Tensor, forget_labels: torch.Tensor, retain_logits: torch.Tensor,
           retain_ref_logits: torch.Tensor, retain_labels: torch.Tensor, kl_weight: float = 1.0,
           positions: str = "all") -> torch.Tensor:
    """GA+KLR: gradient ascent on the forget set (token-mean NLL, negated), kept close to the frozen model
    on the retain set: ``-NLL_f + kl_weight · KL``. ``positions="all"`` (the reference code) averages the
    KL over every position of the retain batch; ``"answer"`` over its answer tokens only (a variant)."""
    if positions == "all":
        kl = kl_all_positions(retain_logits, retain_ref_logits)
    elif positions == "answer":
        kl = kl_to_reference(retain_logits, retain_ref_logits, retain_labels)
    else:
        raise ValueError(f"ga_klr: positions must be 'all' or 'answer', got {positions!r}")
    return gradient_ascent(forget_logits, forget_labels) + kl_weight * kl


def npo(forget_logits: torch.Tensor, ref_logits: torch.Tensor, forget_labels: torch.Tensor,
        beta: float = 0.1) -> torch.Tensor:
    """NPO: (2/β) · E[log(1 + (π_θ(y|x) / π_ref(y|x))^β)] = -(2/β) · E[log σ(-β · log(π_θ/π_ref))].

    Sequence log-likelihoods (summed over answer tokens); as β → 0 its gradient is GA's,
    weighted down for answers already made unlikely.
    """
    lp, _ = sequence_logprob(forget_logits, forget_labels)
    ref_lp, _ = sequence_logprob(ref_logits, forget_labels)
    return -(2.0 / beta) * F.logsigmoid(-beta * (lp - ref_lp.detach())).mean()


def simnpo(forget_logits: torch.Tensor, forget_labels: torch.Tensor, beta: float = 2.5,
           gamma: float = 0.0) -> torch.Tensor:
    """SimNPO's forget term: -(2/β) · E[log σ(β · (-log π_θ(y|x) / |y| - γ))], no reference model,
    length-normalised; γ is the reward margin (Unlearn-Simple ``gamma``, open-unlearning ``delta``), so
    it enters multiplied by β, as in Unlearn-Simple ``TOFU/dataloader.py`` (``simnpo_grad_diff``)."""
    lp, n = sequence_logprob(forget_logits, forget_labels)
    return -(2.0 / beta) * F.logsigmoid(beta * (-lp / n.clamp(min=1) - gamma)).mean()


def idk(idk_logits: torch.Tensor, idk_labels: torch.Tensor, retain_logits: torch.Tensor | None = None,
        retain_labels: torch.Tensor | None = None) -> torch.Tensor:
    """IdK: fine-tune forget questions toward a refusal ("I don't know") and the retain questions toward their
    answers, as one token mean over both batches: TOFU ``dataloader.py`` l.134-145 (``idk``) concatenates the
    refusal and retain batches and returns the model's ``outputs.loss`` (the mean NLL over every labelled token
    of the concatenated batch), so the set with more answer tokens weighs more. Padding never counts, so the
    two batches need not be padded to one length. Without a retain batch: the refusals' token-mean NLL."""
    total, count = _nll_total(idk_logits, idk_labels)
    if retain_logits is not None:
        r_total, r_count = _nll_total(retain_logits, retain_labels)
        total, count = total + r_total, count + r_count
    return total / count.clamp(min=1)


def dpo(chosen_logits: torch.Tensor, chosen_ref_logits: torch.Tensor, chosen_labels: torch.Tensor,
        rejected_logits: torch.Tensor, rejected_ref_logits: torch.Tensor, rejected_labels: torch.Tensor,
        beta: float = 0.1, scale: float | None = None) -> torch.Tensor:
    """DPO as open-unlearning's ``compute_dpo_loss`` computes it:
    -(2/β) · E[log σ(β · ((log π_θ - log π_ref)(y_w) - (log π_θ - log π_ref)(y_l)))], sequence
    log-likelihoods summed over answer tokens. ``scale`` replaces the 2/β factor (1.0: Rafailov et al.'s
    plain DPO, and TOFU ``dataloader.py``'s ``dpo``).

    For unlearning (IdkDPO) the chosen answer y_w is a refusal and the rejected y_l the forget answer.
    """
    w, _ = sequence_logprob(chosen_logits, chosen_labels)
    w_ref, _ = sequence_logprob(chosen_ref_logits, chosen_labels)
    lose, _ = sequence_logprob(rejected_logits, rejected_labels)
    lose_ref, _ = sequence_logprob(rejected_ref_logits, rejected_labels)
    margin = (w - w_ref.detach()) - (lose - lose_ref.detach())
    return -(2.0 / beta if scale is None else scale) * F.logsigmoid(beta * margin).mean()


def rmu(forget_hidden: torch.Tensor, control: torch.Tensor, retain_hidden: torch.Tensor,
        retain_frozen_hidden: torch.Tensor, steering_coeff: float = 6.5, alpha: float = 1200.0,
        forget_mask: torch.Tensor | None = None, retain_mask: torch.Tensor | None = None) -> torch.Tensor:
    """RMU: push the forget tokens' activations at one layer toward ``steering_coeff`` · ``control`` (a
    fixed random unit vector) and hold the retain tokens' activations where the frozen model has them:
    ``mse(h_f, c·u) + α · mse(h_r, h_r^frozen)``, each ``F.mse_loss`` a mean over every element, as WMDP
    ``rmu/unlearn.py`` computes it (padding positions included there).

    Hidden states are batch × length × width; masks (batch × length, 1 = token counts) default to all
    positions (the reference); a mask restricts the mean to its tokens (a variant).
    """
    target = steering_coeff * control.to(forget_hidden.dtype)

    def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return x.mean()
        mask = mask.to(x.dtype)
        return (x * mask).sum() / mask.sum().clamp(min=1)

    forget_term = masked_mean(((forget_hidden - target) ** 2).mean(-1), forget_mask)
    retain_term = masked_mean(((retain_hidden - retain_frozen_hidden.detach()) ** 2).mean(-1), retain_mask)
    return forget_term + alpha * retain_term
