"""GA (gradient ascent) for generative models: maximise the forget answers' token-mean NLL.

    L = -NLL(y_f | x_f)          over answer tokens only (prompt and image tokens masked)

Trained as a LoRA adapter (MLUBench's r=32, alpha=32, dropout 0.3; lr 5e-5, 5 epochs). GA has no
retain term, which is why it degrades the model as requests accumulate.
"""

from __future__ import annotations

from mu_registry.llm_losses import gradient_ascent
from mu_registry.llm_method import LLMMethod


class GA(LLMMethod):
    def loss(self, ctx, forget, retain):
        return gradient_ascent(ctx.logits(forget), forget.labels)
