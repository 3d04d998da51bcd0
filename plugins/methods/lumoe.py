"""LUMoE (MLUBench, Li et al. 2026): one LoRA expert per unlearning request on the frozen base model,
and a router that sends each query to the expert whose forget set it concerns, else to the base.

As released (``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
``LLaVA_unlearning_main.zip``):

* each request's expert is a LoRA trained with ``--loss_type po`` (``LUMoE.py``'s adapters are
  ``single_task_adapter/po/po_X_llava_lora``); ``llava/train/llava_trainer.py``'s ``po`` branch (l.258-293)
  computes a DPO loss and then returns ``-idk_loss_current.mean()``: the NLL of a refusal to each forget
  question, summed over its tokens, averaged over the batch, with no retain term (``loss: refusal``, the
  default; the same loss as the method ``po``; the refusals are drawn from
  ``mu_registry.api.generative_method.REFUSALS``, the stand-in for the release's ``idontknow.jsonl``, which it does
  not ship);
* the router (``entity_extract.py`` + ``LUMoE.py``) extracts the query's entity with an MLLM and
  fuzzy-matches it against every request's forget and retain entity lists (``router: entity``, see
  ``mu_registry_plugins.routers.entity.EntityRouter`` for the stand-in of the extraction). The release labels every row
  once against all requests' lists (``tasks/all_tasks``); here the router is given every request's lists
  before the first request (``QAContext.stream``), and a query whose list is the forget list of a request
  not trained yet is answered by the base model (that adapter does not exist yet).

Earlier experts are never touched, so no damage accumulates. The experts train the LoRA only (``scope``
``llm``): the base, which answers every query routed to no expert, stays the original model, and is also
the model each expert starts from (the ``npo`` variant's reference is the original whatever
``reference_model`` says).

Variants: ``loss``: ``npo`` (NPO(beta) on D_f + ``retain_weight`` * NLL on D_r), ``gd``, ``ga``, ``idk``
(token-mean NLL of a refusal + ``retain_weight`` * NLL on D_r); ``router``: ``trained`` (logistic
regression on the base's prompt features), ``oracle`` (the entity label). ``lumoe_npo`` is the method this
harness ran as LUMoE before following the release: NPO + retain NLL with the trained router.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mu_registry import GenerativeMethod, MuError, get_registry, is_peft, losses, prompt_batches

LOSSES = ("refusal", "npo", "gd", "ga", "idk")


class LUMoE(GenerativeMethod):
    @dataclass
    class Params(GenerativeMethod.Params):
        loss: str = "refusal"
        beta: float = 5.0
        retain_weight: float = 0.0
        router: str = "entity"
        router_args: dict[str, Any] = field(default_factory=dict)
        scope: str = "llm"
        lifelong_lora: str = "continue"

    def __init__(self, params=None, *, registry=None, **overrides):
        super().__init__(params, registry=registry, **overrides)
        if self.params.loss not in LOSSES:
            raise MuError(f"method 'lumoe': loss must be one of {', '.join(LOSSES)}, got '{self.params.loss}'")
        if self.params.lifelong_lora != "continue":
            raise MuError("method 'lumoe': lifelong_lora must be 'continue' (one expert per request, never merged)")
        router_cls = (self.registry or get_registry()).router(self.params.router, context="method 'lumoe': router")
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
        model = self.add_lora(model, self._adapter, name)
        for pname, param in model.named_parameters():  # only the new expert trains
            param.requires_grad_(f".{name}." in pname)
        return model

    # ------------------------------------------------------------ training
    @staticmethod
    def expert_name(request_index: int) -> str:
        return f"expert_{request_index}"

    def unlearn(self, ctx):
        if ctx.stream:  # every request's lists from the start (the entity router labels against all of them)
            self.router.plan([(self.expert_name(r.index), r.forget, r.retain) for r in ctx.stream])
        name = self.expert_name(ctx.request_index)
        ctx.model = self._add_expert(ctx.model, name)
        forget = ctx.forget
        if self.params.loss in ("idk", "refusal"):
            ctx.forget = ctx.refusals(ctx.forget)
        model = self._train(ctx)
        self.experts.append(name)
        self.router.add_expert(name, forget, ctx.retain, lambda d: self.features(model, d))
        return model

    def request_reference(self, ctx):
        return None  # each expert starts from the base, the original model

    def loss(self, ctx, forget, retain):
        p = self.params
        if p.loss == "refusal":
            return losses.refusal_nll(ctx.logits(forget), forget.labels)
        if p.loss == "npo":
            loss = losses.npo(ctx.logits(forget), ctx.reference_logits(forget), forget.labels, beta=p.beta)
        elif p.loss == "idk":
            loss = losses.answer_nll(ctx.logits(forget), forget.labels)
        else:
            loss = losses.gradient_ascent(ctx.logits(forget), forget.labels)
        if retain is not None and p.loss != "ga" and p.retain_weight:
            loss = loss + p.retain_weight * losses.answer_nll(ctx.logits(retain), retain.labels)
        return loss

    # ------------------------------------------------------------ inference
    @torch.no_grad()
    def features(self, model, data) -> np.ndarray:
        """Mean of the frozen base's last hidden state over each prompt's tokens (image tokens included);
        the trained router's input."""
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
