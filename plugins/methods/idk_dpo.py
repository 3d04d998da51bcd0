"""IdkDPO (Maini et al. 2024; DPO from Rafailov et al. 2023): prefer a refusal over the forget answer.

    L = forget_weight * (-(2/beta) * E[log sigmoid(beta * ((log pi - log pi_ref)(y_idk|x_f)
                                                           - (log pi - log pi_ref)(y_f|x_f)))])
        + retain_weight * NLL(y_r | x_r)

As open-unlearning computes it (``locuslab/open-unlearning`` @ d3d7cf9e, ``src/trainer/utils.py``
``compute_dpo_loss``, ``src/trainer/unlearn/dpo.py``; ``configs/trainer/DPO.yaml``: beta 0.1, gamma
(forget weight) 1, alpha (retain weight) 1, retain loss NLL). Sequence log-likelihoods summed over
answer tokens; pi_ref is the frozen model of ``reference_model`` (``request_start``: the model the request
starts from, as TOFU ``forget.py`` l.132-134 @ bdc209ea loads its oracle from the path of the model being
unlearned and MLUBench's ``train.py`` l.1169-1177 its oracle; the MLUBench tasks set it; ``original``, the
default: the model before any unlearning). ``dpo_scale`` replaces the 2/beta factor (0, the default: 2/beta;
1.0: plain DPO, a variant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mu_registry import GenerativeMethod, collate_qa, losses


class IdkDPO(GenerativeMethod):
    @dataclass
    class Params(GenerativeMethod.Params):
        beta: float = 0.1
        forget_weight: float = 1.0
        retain_weight: float = 1.0
        #: the factor in front of the DPO term; 0: 2/beta (the reference code)
        dpo_scale: float = 0.0

    def unlearn(self, ctx):
        self._refusals = ctx.refusals(ctx.forget)
        return super().unlearn(ctx)

    def loss(self, ctx, forget, retain):
        p = self.params
        chosen = collate_qa(self._refusals, np.asarray(forget.positions), pad_id=ctx.adapter.pad_id,
                            pixels=ctx.adapter.pixel_values).to(ctx.device)
        loss = p.forget_weight * losses.dpo(ctx.logits(chosen), ctx.reference_logits(chosen), chosen.labels,
                                            ctx.logits(forget), ctx.reference_logits(forget), forget.labels,
                                            beta=p.beta, scale=p.dpo_scale or None)
        if retain is not None and p.retain_weight:
            loss = loss + p.retain_weight * losses.answer_nll(ctx.logits(retain), retain.labels)
        return loss
