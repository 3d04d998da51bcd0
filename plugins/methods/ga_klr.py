"""GA+KLR: gradient ascent on the forget set, plus the KL divergence to the frozen pre-unlearning
model on the retain set (PULSE's "GA+KLR", MLUBench's "KL").

    L = -NLL(y_f | x_f) + kl_weight * KL(p_ref(. | x_r) || p_theta(. | x_r))   per answer token

The reference is the model before any unlearning (the LoRA adapter switched off).
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry.llm_losses import ga_klr, gradient_ascent
from mu_registry.llm_method import LLMMethod


class GAKLR(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        kl_weight: float = 1.0

    def loss(self, ctx, forget, retain):
        if retain is None:
            return gradient_ascent(ctx.logits(forget), forget.labels)
        return ga_klr(ctx.logits(forget), forget.labels, ctx.logits(retain), ctx.reference_logits(retain),
                      retain.labels, kl_weight=self.params.kl_weight)
