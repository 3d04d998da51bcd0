"""IdK (Maini et al. 2024, TOFU): tune the forget questions toward a refusal ("I don't know."), and
the retain questions toward their answers, as one token mean over both batches:

    L = (sum of NLL(y_idk | x_f) over the refusals' tokens + sum of NLL(y_r | x_r) over the retain answers' tokens)
        / (number of those tokens)

As TOFU computes it (``locuslab/tofu`` @ bdc209ea7c6cc2e7079ea1afb6468d3ddcc65f8e, ``dataloader.py``
l.134-145, ``loss_type == "idk"``): the refusal batch and the retain batch are concatenated and the loss is
the model's ``outputs.loss``, the mean over every labelled token of the concatenated batch (not the sum of
two means). The refusal for each forget question is drawn from a fixed list (``REFUSALS`` in
``mu_registry.api.generative_method``), seeded per request. MLUBench's PO (refusals only, summed over each answer's
tokens, no retain term) is the method ``po``.
"""

from __future__ import annotations

from mu_registry import GenerativeMethod, losses


class IdK(GenerativeMethod):
    def unlearn(self, ctx):
        ctx.forget = ctx.refusals(ctx.forget)  # the forget prompts, answered with refusals
        return super().unlearn(ctx)

    def loss(self, ctx, forget, retain):
        if retain is None:
            return losses.idk(ctx.logits(forget), forget.labels)
        return losses.idk(ctx.logits(forget), forget.labels, ctx.logits(retain), retain.labels)
