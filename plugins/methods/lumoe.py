"""LUMoE (MLUBench, Li et al. 2026): one LoRA expert per unlearning request on the frozen base model,
and a router that sends each query to the expert whose forget set it concerns, else to the base.

For request i a new adapter ``expert_i`` is trained on the frozen base (earlier experts are not
touched, so no damage accumulates) with an unlearning loss on the request's forget set:

    loss "npo" (default): NPO(beta) on D_f + retain_weight * NLL on D_r
    loss "gd":            -NLL on D_f + retain_weight * NLL on D_r
    loss "ga":            -NLL on D_f
    loss "idk":           NLL of a refusal on D_f + retain_weight * NLL on D_r

then the router learns the new expert (``router``: a registered router plugin, ``trained`` by
default, ``oracle`` for the entity-label upper bound; see ``mu_registry.routing``). At evaluation
each query is answered by its routed expert, or by the base with every adapter off.

What the paper leaves open and is chosen here: the expert's loss is configurable (the paper
builds experts with an existing unlearning objective); the trained router works on the base
model's own prompt features rather than a separate encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mu_registry.errors import MuError
from mu_registry.llm_losses import answer_nll, gradient_ascent, npo
from mu_registry.llm_method import LLMMethod, is_peft
from mu_registry.qa import prompt_batches

LOSSES = ("npo", "gd", "ga", "idk")


class LUMoE(LLMMethod):
    @dataclass
    class Params(LLMMethod.Params):
        loss: str = "npo"
        beta: float = 5.0
        retain_weight: float = 1.0
        router: str = "trained"
        router_args: dict[str, Any] = field(default_factory=dict)

    def __init__(self, params=None, **overrides):
        super().__init__(params, **overrides)
        if self.params.loss not in LOSSES:
            raise MuError(f"method 'lumoe': loss must be one of {', '.join(LOSSES)}, got '{self.params.loss}'")
        from mu_registry.registry import get_registry

        router_cls = get_registry().router(self.params.router, context="method 'lumoe': router")
        self.router = router_cls(**self.params.router_args)
        self.experts: list[str] = []

    # ------------------------------------------------------------ structure
    def prepare(self, model, adapter):
        self._adapter = adapter
        return model

    def state(self):
        return {"experts": list(self.experts), "router": self.router.state()}

    def restore(self, model, adapter, state):
        model = self.prepare(model, adapter)
        for name in state["experts"]:
            model = self._add_expert(model, name)
        self.experts = list(state["experts"])
        self.router.load_state(state["router"])
        return model

    def _add_expert(self, model, name: str):
        p = self.params
        model = self._adapter.add_lora(model, name, r=p.lora_r, alpha=p.lora_alpha, dropout=p.lora_dropout)
        for pname, param in model.named_parameters():  # only the new expert trains
            param.requires_grad_(f".{name}." in pname)
        return model

    # ------------------------------------------------------------ training
    def unlearn(self, ctx):
        name = f"expert_{ctx.request_index}"
        ctx.model = self._add_expert(ctx.model, name)
        if self.params.loss == "idk":
            ctx.forget = ctx.refusals(ctx.forget)
        model = super().unlearn(ctx)
        self.experts.append(name)
        self.router.add_expert(name, ctx.forget, ctx.retain, lambda d: self.features(model, d))
        return model

    def loss(self, ctx, forget, retain):
        p = self.params
        if p.loss == "npo":
            loss = npo(ctx.logits(forget), ctx.reference_logits(forget), forget.labels, beta=p.beta)
        elif p.loss == "idk":
            loss = answer_nll(ctx.logits(forget), forget.labels)
        else:
            loss = gradient_ascent(ctx.logits(forget), forget.labels)
        if retain is not None and p.loss != "ga" and p.retain_weight:
            loss = loss + p.retain_weight * answer_nll(ctx.logits(retain), retain.labels)
        return loss

    # ------------------------------------------------------------ inference
    @torch.no_grad()
    def features(self, model, data) -> np.ndarray:
        """Mean of the frozen base's last hidden state over each prompt's tokens (image tokens included)."""
        adapter = self._adapter
        out = np.zeros((len(data), 0), dtype=np.float32)
        device = next(model.parameters()).device
        rows = []
        for batch in prompt_batches(data, 64, pad_id=adapter.pad_id, pixels=adapter.pixel_values, device=device):
            if is_peft(model):
                with model.disable_adapter():
                    h = adapter.hidden_states(model, batch, -2)
            else:
                h = adapter.hidden_states(model, batch, -2)
            mask = batch.attention_mask.unsqueeze(-1).to(h.dtype)
            rows.append((batch.positions, ((h * mask).sum(1) / mask.sum(1)).float().cpu().numpy()))
        if rows:
            out = np.zeros((len(data), rows[0][1].shape[1]), dtype=np.float32)
            for pos, feats in rows:
                out[pos] = feats
        return out

    def route(self, model, data):
        if not self.experts:
            return [None] * len(data)
        return self.router.route(data, lambda d: self.features(model, d))
