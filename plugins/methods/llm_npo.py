"""NPO (negative preference optimisation; Zhang et al. 2024) for generative models.

    L = -(2/beta) * E[log sigmoid(-beta * (log pi_theta(y_f|x_f) - log pi_ref(y_f|x_f)))]
        + retain_weight * NLL(y_r | x_r)

Sequence log-likelihoods summed over answer tokens; pi_ref is the model before any unlearning
(the LoRA adapter switched off). beta defaults to 5 (MLUBench's setting). ``retain_weight`` 0 is
plain NPO as PULSE runs it; 1 is the paper's NPO-RT.
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry.llm_losses import answer_nll, npo
from mu_registry.llm_method import LLMMethod


class LLMNPO(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        beta: float = 5.0
        retain_weight: float = 0.0

    def loss(self, ctx, forget, retain):
        loss = npo(ctx.logits(forget), ctx.reference_logits(forget), forget.labels, beta=self.params.beta)
        if retain is not None and self.params.retain_weight:
            loss = loss + self.params.retain_weight * answer_nll(ctx.logits(retain), retain.labels)
        return loss
