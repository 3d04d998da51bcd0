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

The optimiser is WMDP's, not the LoRA methods': ``optimizer = AdamW(params, lr=args.lr)`` with ``from
transformers import AdamW`` (transformers==4.38.2 in the copy's ``requirements.txt``), stepped without a
scheduler: betas (0.9, 0.999), eps 1e-6 added to sqrt(v) BEFORE the bias correction (``step_size = lr *
sqrt(1 - beta2^t) / (1 - beta1^t)``, ``p -= step_size * m / (sqrt(v) + eps)``; torch's AdamW adds eps after
it), weight decay 0, a constant learning rate (no warm-up). ``WMDPAdamW`` is that update written out;
``weight_decay`` (decoupled, after the step, as there), ``warmup_ratio`` and ``lr_schedule`` stay settable.

WMDP hooks the output of ``model.layers[layer_id]`` (``forward_with_cache``): the residual stream BEFORE the
final norm. transformers' ``hidden_states[layer + 1]`` is that stream for every layer but the last, where it
is the normed state; so ``layer`` may not be the last decoder layer (refused in one line when planning, where
the model plugin can tell the depth, and again when the method starts).

Layer rule for other depths (``layer`` -1, the default): ``round(7 * L / 32)`` for a model with L
decoder layers (7 of 32 scaled), clamped to ``0 .. L-1``: 7 for 32 layers, 9 for 40 (LLaVA-13B),
0 for the 2-layer tiny LLaVA. ``masked: true`` averages the activations over real tokens only (a variant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mu_registry import GenerativeMethod, MuError, losses


class WMDPAdamW(torch.optim.Optimizer):
    """transformers' (deprecated) ``AdamW`` as WMDP's ``rmu/unlearn.py`` steps it (transformers 4.38.2,
    ``optimization.py``): m and v updated in place, ``denom = sqrt(v) + eps``, ``step_size = lr * sqrt(1 -
    beta2^t) / (1 - beta1^t)``, ``p -= step_size * m / denom``, then ``p -= lr * weight_decay * p`` when the
    decay is above 0."""

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - the update is the class docstring's
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                t = state["step"]
                step_size = group["lr"] * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-step_size)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])
        return loss


def _decoder_layers(model):
    """The language model's decoder layers (not a vision tower's encoder layers)."""
    found = [(name, m) for name, m in model.named_modules()
             if name.endswith("layers") and isinstance(m, torch.nn.ModuleList) and "vision" not in name]
    if not found:
        raise MuError("method 'rmu': no decoder layer list found in the model")
    return found[-1]


def rmu_layer(n_layers: int, layer: int = -1) -> int:
    """The steered layer: ``layer`` if given, else WMDP's layer 7 of 32 scaled to ``n_layers``; refused (one
    line) where it is not below the last decoder layer (see the module docstring)."""
    chosen = layer if layer >= 0 else min(max(int(round(7 * n_layers / 32)), 0), n_layers - 1)
    if chosen >= n_layers - 1:
        given = f"layer {layer}" if layer >= 0 else f"layer -1 (round(7 * {n_layers} / 32) = {chosen})"
        raise MuError(f"parameter 'layer': {given} is not below the model's last decoder layer ({n_layers - 1} of "
                      f"0..{n_layers - 1}): transformers gives the last layer's state after the final norm, WMDP "
                      f"steers the layer's own output; choose 0..{n_layers - 2}")
    return chosen


class RMU(GenerativeMethod):
    @dataclass
    class Params(GenerativeMethod.Params):
        lr: float = 5e-5
        epochs: int = 1
        batch_size: int = 4
        layer: int = -1
        steering_coeff: float = 6.5
        alpha: float = 1200.0
        #: average activations over real tokens only (a variant; the reference averages every position)
        masked: bool = False
        #: WMDP's optimiser: transformers' AdamW with its defaults (eps 1e-6, no weight decay) at a constant rate
        weight_decay: float = 0.0
        warmup_ratio: float = 0.0
        lr_schedule: str = "constant"
        adam_eps: float = 1e-6

        def __post_init__(self) -> None:
            parent = getattr(super(), "__post_init__", None)
            if parent is not None:
                parent()
            if self.layer < -1:
                raise MuError(f"parameter 'layer' is -1 (WMDP's layer 7 of 32 scaled to the model) or a decoder "
                              f"layer index 0..L-2, got {self.layer}")
            if not self.adam_eps >= 0:
                raise MuError(f"parameter 'adam_eps' must be >= 0, got {self.adam_eps}")

    def optimizer(self, model):
        """WMDP's optimiser over the trained ``down_proj`` weights (one group)."""
        p = self.params
        return WMDPAdamW([q for q in model.parameters() if q.requires_grad], lr=p.lr, eps=p.adam_eps,
                         weight_decay=p.weight_decay)

    def check_model(self, model_plugin) -> None:
        """Planning: the steered layer against the model's depth where the model plugin can tell it without
        building the model (``decoder_layers``)."""
        depth = getattr(model_plugin, "decoder_layers", lambda: None)()
        if depth is not None:
            rmu_layer(depth, self.params.layer)

    def _layer(self, model) -> int:
        _, layers = _decoder_layers(model)
        try:
            return rmu_layer(len(layers), self.params.layer)
        except MuError as exc:
            raise MuError(f"method 'rmu': {exc}") from None

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
            return losses.rmu(f_hidden, self._control, f_hidden, f_hidden.detach(), p.steering_coeff, 0.0, f_mask,
                              f_mask)
        return losses.rmu(f_hidden, self._control, ctx.hidden(retain, layer),
                          ctx.hidden(retain, layer, reference=True), p.steering_coeff, p.alpha, f_mask,
                          retain.attention_mask if p.masked else None)
