"""GA+KLR: gradient ascent on the forget set, plus the KL divergence to the frozen pre-unlearning
model on the retain set (PULSE's "GA+KLR", MLUBench's "KL").

    L = -NLL(y_f | x_f) + kl_weight * KL(p_ref(. | x_r) || p_theta(. | x_r))

The KL is summed over the vocabulary and averaged over every position of the retain batch (prompt,
image and padding positions too), ``F.kl_div(..., reduction="batchmean", log_target=True)`` on the
flattened logits, as the reference code computes it: TOFU ``locuslab/tofu`` @ bdc209ea, ``dataloader.py``
(``KL``); open-unlearning ``locuslab/open-unlearning`` @ d3d7cf9e, ``src/trainer/utils.py``
(``compute_kl_divergence``); MLUBench ``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8,
``LLaVA_unlearning_main.zip:llava/train/llava_trainer.py`` (``KL``). ``kl_positions: answer`` is the
variant that averages over answer tokens only. The reference is the frozen model of ``reference_model``:
``request_start`` (the model the request starts from, as MLUBench's ``train.py`` l.1169-1177 loads its
oracle; the MLUBench tasks set it) or ``original`` (the model before any unlearning; the default).
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry.errors import MuError
from mu_registry.llm_losses import ga_klr, gradient_ascent
from mu_registry.llm_method import LLMMethod


class GAKLR(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        kl_weight: float = 1.0
        #: "all" (the reference code: every position of the retain batch) or "answer" (a variant)
        kl_positions: str = "all"

    def __init__(self, params=None, **overrides):
        super().__init__(params, **overrides)
        if self.params.kl_positions not in ("all", "answer"):
            raise MuError(f"method 'ga_klr': kl_positions must be 'all' or 'answer', got "
                          f"'{self.params.kl_positions}'")

    def loss(self, ctx, forget, retain):
        if retain is None:
            return gradient_ascent(ctx.logits(forget), forget.labels)
        return ga_klr(ctx.logits(forget), forget.labels, ctx.logits(retain), ctx.reference_logits(retain),
                      retain.labels, kl_weight=self.params.kl_weight, positions=self.params.kl_positions)
