"""IdK (Maini et al. 2024, TOFU): tune the forget questions toward a refusal ("I don't know."), and
the retain questions toward their answers.

    L = NLL(y_idk | x_f) + NLL(y_r | x_r)

The refusal for each forget question is drawn from a fixed list (``REFUSALS`` in
``mu_registry.llm_method``), seeded per request.
"""

from __future__ import annotations

from mu_registry.llm_losses import answer_nll
from mu_registry.llm_method import LLMMethod


class IdK(LLMMethod):
    def unlearn(self, ctx):
        ctx.forget = ctx.refusals(ctx.forget)  # the forget prompts, answered with refusals
        return super().unlearn(ctx)

    def loss(self, ctx, forget, retain):
        loss = answer_nll(ctx.logits(forget), forget.labels)
        if retain is not None:
            loss = loss + answer_nll(ctx.logits(retain), retain.labels)
        return loss
