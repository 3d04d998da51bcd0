"""RMU (representation misdirection; Li et al. 2024, WMDP).

    L = mse(h_theta(x_f), c * u) + alpha * mse(h_theta(x_r), h_frozen(x_r))

h is the language model's residual stream after decoder layer ``layer`` (the output of
``model.layers[layer]``); u a fixed random unit vector (``torch.rand`` normalised, seeded), c the
steering coefficient; each mse is ``F.mse_loss``, the mean over every element (all positions).
As WMDP's ``rmu/unlearn.py`` (``centerforaisafety/wmdp``; read from the unmodified copy
``hkhanuja/Unlearning`` @ 5a586f575ee1c7e6e4036fb42261f87792c9eb26, ``rmu/unlearn.py``) trains it: the
only trainable weights are the MLP ``down_proj`` weights (``param_ids`` 6 of a Llama/Mistral decoder layer)
of layers ``layer-2 .. layer`` (``layer_ids`` 5,6,7 with ``layer_id`` 7 for the 32-layer Zephyr-7B), no
LoRA; c = 6.5 and alpha = 1200 as tuned there for Zephyr-7B (the README's command), lr 5e-5, batch 4.

Layer rule for other depths (``layer`` -1, the default): ``round(7 * L / 32)`` for a model with L
decoder layers (7 of 32 scaled), clamped to ``0 .. L-1``: 7 for 32 layers, 9 for 40 (LLaVA-13B),
0 for the 2-layer tiny LLaVA. ``masked: true`` averages the activations over real tokens only (a variant).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mu_registry.errors import MuError
from mu_registry.llm_losses import rmu
from mu_registry.llm_method import LLMMethod


def _decoder_layers(model):
    """The language model's decoder layers (not a vision tower's encoder layers)."""
    found = [(name, m) for name, m in model.named_modules()
             if name.endswith("layers") and isinstance(m, torch.nn.ModuleList) and "vision" not in name]
    if not found:
        raise MuError("method 'rmu': no decoder layer list found in the model")
    return found[-1]


def rmu_layer(n_layers: int, layer: int = -1) -> int:
    """The steered layer: ``layer`` if given, else WMDP's layer 7 of 32 scaled to ``n_layers``."""
    if layer >= 0:
        return layer
    return min(max(int(round(7 * n_layers / 32)), 0), n_layers - 1)


class RMU(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        lr: float = 5e-5
        epochs: int = 1
        batch_size: int = 4
        layer: int = -1
        steering_coeff: float = 6.5
        alpha: float = 1200.0
        #: average activations over real tokens only (a variant; the reference averages every position)
        masked: bool = False

    def _layer(self, model) -> int:
        _, layers = _decoder_layers(model)
        return rmu_layer(len(layers), self.params.layer)

    def prepare(self, model, adapter):
        for p in model.parameters():
            p.requires_grad_(False)
        _, layers = _decoder_layers(model)
        top = self._layer(model)
        for i in range(max(0, top - 2), top + 1):
            mlp = getattr(layers[i], "mlp", None)
            if mlp is None or not hasattr(mlp, "down_proj"):
                raise MuError(f"method 'rmu': decoder layer {i} has no mlp.down_proj (WMDP trains only those)")
            mlp.down_proj.weight.requires_grad_(True)
        return model

    def restore(self, model, adapter, state):
        return self.prepare(model, adapter)

    def unlearn(self, ctx):
        width = ctx.model.config.get_text_config().hidden_size
        gen = torch.Generator().manual_seed(ctx.seed)  # the same direction for every request of a run
        u = torch.rand(width, generator=gen)
        self._control = (u / u.norm()).to(ctx.device)
        return self._train(ctx)

    def loss(self, ctx, forget, retain):
        p = self.params
        layer = self._layer(ctx.model)
        f_hidden = ctx.hidden(forget, layer)
        f_mask = forget.attention_mask if p.masked else None
        if retain is None:
            return rmu(f_hidden, self._control, f_hidden, f_hidden.detach(), p.steering_coeff, 0.0, f_mask, f_mask)
        return rmu(f_hidden, self._control, ctx.hidden(retain, layer), ctx.hidden(retain, layer, reference=True),
                   p.steering_coeff, p.alpha, f_mask, retain.attention_mask if p.masked else None)
