"""PO as MLUBench runs it (``--loss_type po``): tune the forget questions toward a refusal, nothing else.

    L = E_batch[ sum over the refusal's tokens of NLL(y_idk | x_f) ]

MLUBench's release (``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
``LLaVA_unlearning_main.zip``), ``llava/train/llava_trainer.py`` l.258-293: the ``po`` branch of
``compute_loss`` computes TOFU's DPO loss between the refusal and the forget answer, prints it, overwrites it
twice and returns ``-idk_loss_current.mean()``, where ``idk_loss_current = -get_batch_loss(idk logits)`` is
each refusal's NLL summed over its tokens (``get_batch_loss``, l.103-111); the retain batch the data module
pairs with it is not used. It is the loss of LUMoE's experts (``lumoe``, whose adapters are the release's
``po_X_llava_lora``) and the "PO" rows of the paper's draft appendix F. The refusal for each forget
question comes from ``REFUSALS`` in ``mu_registry.api.generative_method`` (the release's ``idontknow.jsonl`` is not
shipped), one per row and request; the release draws one per row each time the row is loaded.

TOFU's IdK (a token mean over the refusals and the retain answers together) is the method ``idk``.
"""

from __future__ import annotations

from mu_registry import GenerativeMethod, losses


class PO(GenerativeMethod):
    def unlearn(self, ctx):
        ctx.forget = ctx.refusals(ctx.forget)  # the forget prompts, answered with refusals
        return super().unlearn(ctx)

    def loss(self, ctx, forget, retain):
        return losses.po(ctx.logits(forget), forget.labels)
