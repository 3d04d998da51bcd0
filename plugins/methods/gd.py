"""GD (gradient difference, "GradDiff") for generative models: ascent on the forget answers, descent
on the retain answers.

    L = -NLL(y_f | x_f) + retain_weight * NLL(y_r | x_r)
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry.llm_losses import answer_nll, grad_diff
from mu_registry.llm_method import LLMMethod


class GD(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        retain_weight: float = 1.0

    def loss(self, ctx, forget, retain):
        if retain is None:
            return -answer_nll(ctx.logits(forget), forget.labels)
        return grad_diff(ctx.logits(forget), forget.labels, ctx.logits(retain), retain.labels,
                         retain_weight=self.params.retain_weight)
