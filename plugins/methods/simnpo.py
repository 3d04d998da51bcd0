"""SimNPO (Fan et al. 2024): NPO without a reference model, with length-normalised likelihood.

    L = -(2/beta) * E[log sigmoid(-(beta/|y_f|) * log pi_theta(y_f|x_f) - gamma)] + retain_weight * NLL(y_r|x_r)

Defaults from the paper's TOFU setting (beta 2.5, gamma 0, retain weight 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry.llm_losses import answer_nll, simnpo
from mu_registry.llm_method import LLMMethod


class SimNPO(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        beta: float = 2.5
        gamma: float = 0.0
        retain_weight: float = 1.0

    def loss(self, ctx, forget, retain):
        p = self.params
        loss = simnpo(ctx.logits(forget), forget.labels, beta=p.beta, gamma=p.gamma)
        if retain is not None and p.retain_weight:
            loss = loss + p.retain_weight * answer_nll(ctx.logits(retain), retain.labels)
        return loss
