"""NPO (negative preference optimisation; Zhang et al. 2024) for generative models.

    L = -(2/beta) * E[log sigmoid(-beta * (log pi_theta(y_f|x_f) - log pi_ref(y_f|x_f)))]
        + retain_weight * NLL(y_r | x_r)

Sequence log-likelihoods summed over answer tokens (MLUBench ``llava_trainer.py`` ``npo``). pi_ref is the
frozen reference of ``reference_model``: ``request_start`` (the model the request starts from; MLUBench's
``train.py`` l.1169-1177 loads its oracle from the trained model's own path, and the MLUBench tasks set it) or
``original`` (the model before any unlearning, the parameter's default). beta defaults to 5 (MLUBench's
setting). ``retain_weight`` 0 is plain NPO as PULSE runs it; 1 is the paper's NPO-RT.
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
