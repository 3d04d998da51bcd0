"""IdkDPO (Maini et al. 2024; DPO from Rafailov et al. 2023): prefer a refusal over the forget answer.

    L = -E[log sigmoid(beta * ((log pi - log pi_ref)(y_idk|x_f) - (log pi - log pi_ref)(y_f|x_f)))]
        + retain_weight * NLL(y_r | x_r)

pi_ref is the model before unlearning (adapter off). beta 0.1 as in TOFU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mu_registry.llm_losses import answer_nll, dpo
from mu_registry.llm_method import LLMMethod
from mu_registry.qa import collate_qa


class IdkDPO(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        beta: float = 0.1
        retain_weight: float = 1.0

    def unlearn(self, ctx):
        self._refusals = ctx.refusals(ctx.forget)
        return super().unlearn(ctx)

    def loss(self, ctx, forget, retain):
        chosen = collate_qa(self._refusals, np.asarray(forget.positions), pad_id=ctx.adapter.pad_id,
                            pixels=ctx.adapter.pixel_values).to(ctx.device)
        loss = dpo(ctx.logits(chosen), ctx.reference_logits(chosen), chosen.labels,
                   ctx.logits(forget), ctx.reference_logits(forget), forget.labels, beta=self.params.beta)
        if retain is not None and self.params.retain_weight:
            loss = loss + self.params.retain_weight * answer_nll(ctx.logits(retain), retain.labels)
        return loss
