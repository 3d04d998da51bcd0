"""RMU (representation misdirection; Li et al. 2024, WMDP).

    L = mean_f || h_theta(x_f) - c * u ||^2 + alpha * mean_r || h_theta(x_r) - h_frozen(x_r) ||^2

h is the language model's residual stream after decoder layer ``layer``; u a fixed random unit
vector (seeded), c the steering coefficient. As in the paper, the trained weights are the MLP
weights of layers ``layer-2 .. layer`` of the language model (no LoRA), and the activations are
taken over all prompt and answer tokens. Defaults: the paper's c=6.5, alpha=1200 for Zephyr-7B;
the layer defaults to the middle of the model when ``layer`` is -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mu_registry.llm_losses import rmu
from mu_registry.llm_method import LLMMethod


def _decoder_layers(model):
    """The language model's decoder layers (not a vision tower's encoder layers)."""
    found = [(name, m) for name, m in model.named_modules()
             if name.endswith("layers") and isinstance(m, torch.nn.ModuleList) and "vision" not in name]
    if not found:
        raise ValueError("RMU: no decoder layer list found in the model")
    return found[-1]


class RMU(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        lr: float = 5e-5
        epochs: int = 1
        layer: int = -1
        steering_coeff: float = 6.5
        alpha: float = 1200.0

    def _layer(self, model) -> int:
        _, layers = _decoder_layers(model)
        return len(layers) // 2 if self.params.layer < 0 else self.params.layer

    def prepare(self, model, adapter):
        for p in model.parameters():
            p.requires_grad_(False)
        _, layers = _decoder_layers(model)
        top = self._layer(model)
        for i in range(max(0, top - 2), top + 1):
            for p in layers[i].mlp.parameters():
                p.requires_grad_(True)
        return model

    def unlearn(self, ctx):
        width = ctx.model.config.get_text_config().hidden_size
        gen = torch.Generator().manual_seed(ctx.seed)  # the same direction for every request of a run
        u = torch.rand(width, generator=gen)
        self._control = (u / u.norm()).to(ctx.device)
        return super().unlearn(ctx)

    def loss(self, ctx, forget, retain):
        layer = self._layer(ctx.model)
        f_hidden = ctx.hidden(forget, layer)
        if retain is None:
            return rmu(f_hidden, self._control, f_hidden, f_hidden.detach(), self.params.steering_coeff, 0.0,
                       forget.attention_mask, forget.attention_mask)
        return rmu(f_hidden, self._control, ctx.hidden(retain, layer), ctx.hidden(retain, layer, reference=True),
                   self.params.steering_coeff, self.params.alpha, forget.attention_mask, retain.attention_mask)
