"""``GenerativeMethod``: the base of unlearning methods for generative (LLM / MLLM) tasks.

A subclass writes its ``loss(ctx, forget_batch, retain_batch)``; this base trains it the way
MLUBench's release does (``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
``LLaVA_unlearning_main.zip``):

* a LoRA adapter (r 32, alpha 32, dropout 0.3) on every linear layer of the language model
  (``llava/train/train.py`` ``find_all_linear_names``: every ``nn.Linear`` but the projector, the vision
  tower and ``lm_head``; MLLMU-Bench's LoRA is all-linear too). ``lora_targets: attention`` is the
  variant with q/k/v/o only. (``find_all_linear_names`` returns leaf names, which peft also matches
  inside the CLIP tower's q/k/v projections; here only the language model's layers are targeted.)
* ``scope``: ``projector+llm`` (default) also trains the multimodal projector, at its own learning rate
  ``projector_lr`` (1e-5, ``unlearning_auto.py`` ``--mm_projector_lr``; LLaVA's ``llava_arch.py`` makes the
  projector trainable under LoRA, ``llava_trainer.py`` gives it its own optimizer group); ``llm`` trains
  the LoRA only (PULSE's ablation compares the two).
* AdamW, weight decay 1e-4 (not on biases and norms, as ``llava_trainer.py`` groups them), 3% linear
  warm-up then cosine decay to 0 (``--warmup_ratio 0.03 --lr_scheduler_type cosine``), batch 4,
  lr 5e-5, 5 epochs (``unlearning_auto.py``), a retain batch paired to every forget batch.
* ``lifelong_lora``: ``merge`` (default): after each request the LoRA is merged into the weights and the
  next request trains a fresh one on the merged model, as the release runs a stream: every
  ``unlearning_auto.py`` call trains one LoRA from ``--model_path``, and ``scripts/merge_lora_weights.py``
  (``load_pretrained_model(model_path, model_base)`` merges the LoRA, ``merge_and_unload``) saves the merged
  model that the next request starts from. ``continue`` (a variant) keeps training one adapter.
* ``reference_model``: the frozen model NPO, GA+KLR's KL, IdkDPO (and RMU's frozen activations) compare
  against. ``request_start``: the model as the request starts (the original for the first request, then the
  model the previous requests left), as the release loads it: ``llava/train/train.py`` l.1169-1177 loads the
  ``oracle_model`` from ``model_args.model_name_or_path``, the path of the model being trained (its comment:
  the separate oracle-model path was given up for the trained model's own path), so in a stream chained
  through merged checkpoints it is the request's starting model; ``--oracle_model_path``
  (``unlearning_auto.py``, ``train.py`` l.78) is parsed and passed on but never read. ``original``: the model
  before any unlearning. The MLUBench tasks set ``request_start`` for the methods with a reference; the
  parameter's default is ``original`` (the same model for a single request). ``request_start`` holds one more
  copy of the model from the second request on (none for the first, which starts from the original).

Methods that need another structure (LUMoE's adapter per request, RMU's unfrozen MLP weights)
override ``prepare``/``unlearn``.

Example (gradient ascent, the whole method)::

    class GA(GenerativeMethod):
        def loss(self, ctx, forget, retain):
            return -answer_nll(ctx.logits(forget), forget.labels)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from mu_registry.util.errors import MuError
from mu_registry.api.generative_model import GenerativeModel
from mu_registry.api.method import Method
from mu_registry.api.qa import EncodedQA, QABatch
from mu_registry.training.batching import steps_per_epoch
from mu_registry.training.loop import note_epoch
from mu_registry.training.peft import is_peft

REFUSALS = ("I don't know.", "I'm not sure about that.", "I cannot answer that.", "I have no information on that.",
            "Sorry, I don't know.")


@dataclass(frozen=True)
class RequestSets:
    """One request of the stream: its position (``index``), name and encoded forget and retain sets."""

    index: int
    name: str
    forget: EncodedQA
    retain: EncodedQA


@dataclass
class QAContext:
    """What a generative method is given for one request.

    Attributes:
        model: the model being unlearned (after ``prepare``: a peft model whose adapter trains).
        original: the model before any unlearning, frozen.
        forget: the request's forget set (D_f), encoded; answers are labelled, prompts and images masked.
        retain: the request's retain set (D_r).
        adapter: the model plugin (forward passes, tokenizing, LoRA).
        stream: every request of the stream, in order (the lifelong runner gives it; empty when not known).
            LUMoE's entity router labels queries against every request's lists from the start, as the
            release labels its rows once against all of ``tasks/all_tasks``.
        reference: the frozen model ``reference_logits`` and ``hidden(reference=True)`` use during training
            (set by ``GenerativeMethod._train`` from ``reference_model``; ``None``: the original).
    """

    model: nn.Module
    original: nn.Module
    forget: EncodedQA
    retain: EncodedQA
    adapter: GenerativeModel
    request_index: int
    seed: int
    device: torch.device
    stream: tuple[RequestSets, ...] = ()
    reference: nn.Module | None = None
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed * 1000 + self.request_index)

    def batches(self, split: EncodedQA, *, batch_size: int, epochs: int = 1, shuffle: bool = True) -> Iterator[QABatch]:
        for _ in range(epochs):
            note_epoch()  # the divergence check names the epoch it failed in
            yield from self.adapter.batches(split, batch_size, shuffle=shuffle, generator=self.generator,
                                            device=self.device)

    def cycle(self, split: EncodedQA, *, batch_size: int) -> Iterator[QABatch | None]:
        """Endless shuffled batches of ``split`` (``None`` forever if it is empty)."""
        while True:
            if not len(split):
                yield None
                continue
            # a paired loader: its passes are not counted as epochs
            yield from self.adapter.batches(split, batch_size, shuffle=True, generator=self.generator,
                                            device=self.device)

    def logits(self, batch: QABatch, model: nn.Module | None = None) -> torch.Tensor:
        return self.adapter.forward(model if model is not None else self.model, batch)

    @property
    def reference_model(self) -> nn.Module:
        """The frozen reference: ``reference`` when set, else the original (a separate frozen model: after a
        merged request or with a trained projector, switching the adapters off would not give it back)."""
        return self.reference if self.reference is not None else self.original

    @torch.no_grad()
    def reference_logits(self, batch: QABatch) -> torch.Tensor:
        """Logits of the reference model (see ``reference_model``)."""
        ref = self.reference_model
        was = ref.training
        ref.eval()
        try:
            return self.adapter.forward(ref, batch).detach()
        finally:
            ref.train(was)

    def hidden(self, batch: QABatch, layer: int, *, reference: bool = False) -> torch.Tensor:
        if not reference:
            return self.adapter.hidden_states(self.model, batch, layer)
        with torch.no_grad():
            return self.adapter.hidden_states(self.reference_model, batch, layer).detach()

    def refusals(self, split: EncodedQA) -> EncodedQA:
        """``split``'s prompts with a refusal as the answer (IdK's targets), chosen per row by the seed."""
        picks = torch.randint(len(REFUSALS), (len(split),), generator=self.generator).tolist()
        texts = [REFUSALS[i] for i in picks]
        return split.with_answers([self.adapter.tokenize_answer(t) for t in texts], texts)


PROJECTOR_KEYS = ("multi_modal_projector", "mm_projector")
SCOPES = ("projector+llm", "llm")
REFERENCE_MODELS = ("request_start", "original")


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """The learning-rate factor at optimizer step ``step`` (0-based) of transformers'
    ``get_cosine_schedule_with_warmup`` (one half cosine): linear from 0 over ``warmup`` steps, then
    ``0.5 · (1 + cos(π · progress))`` down to 0 at ``total``."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def warmup_steps(ratio: float, total: int) -> int:
    """transformers' ``TrainingArguments.get_warmup_steps``: ``ceil(ratio · total)``."""
    return math.ceil(ratio * total)


def param_groups(model: nn.Module, *, lr: float, projector_lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """The trainable parameters in LLaVA's optimizer groups (``llava_trainer.py`` ``create_optimizer``):
    weight decay on everything but biases and norm weights, the projector at ``projector_lr``."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    norms = {f"{name}.{p}" if name else p for name, m in model.named_modules()
             if isinstance(m, nn.LayerNorm) or "norm" in type(m).__name__.lower()
             for p, _ in m.named_parameters(recurse=False)}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = "bias" not in name and name not in norms
        projector = any(k in name for k in PROJECTOR_KEYS)
        groups.setdefault((decay, projector), []).append(param)
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0,
             "lr": projector_lr if projector else lr} for (decay, projector), params in groups.items()]


class GenerativeMethod(Method):
    supports: ClassVar[frozenset[str]] = frozenset({"generation"})

    @dataclass
    class Params:
        lr: float = 5e-5
        epochs: int = 5
        batch_size: int = 4
        lora_r: int = 32
        lora_alpha: int = 32
        lora_dropout: float = 0.3
        #: "all_linear": every linear layer of the language model (the papers); "attention": q/k/v/o only
        lora_targets: str = "all_linear"
        #: "projector+llm": the projector trains too, at ``projector_lr``; "llm": the LoRA only
        scope: str = "projector+llm"
        projector_lr: float = 1e-5
        weight_decay: float = 1e-4
        warmup_ratio: float = 0.03
        #: "cosine" (after the warm-up) or "constant"
        lr_schedule: str = "cosine"
        #: "merge": merge each request's LoRA into the weights, a fresh one per request; "continue": one adapter
        lifelong_lora: str = "merge"
        #: the frozen model of NPO / KL / DPO: "request_start" (the model the request starts from, MLUBench's
        #: train.py) or "original" (the model before any unlearning); the MLUBench tasks set request_start
        reference_model: str = "original"

        def __post_init__(self) -> None:
            if self.reference_model not in REFERENCE_MODELS:
                raise MuError(f"reference_model must be one of {', '.join(REFERENCE_MODELS)}, "
                              f"got '{self.reference_model}'")

    def __init__(self, params=None, **overrides):
        super().__init__(params, **overrides)
        p = self.params
        name = type(self).__name__
        for key, allowed in (("lora_targets", ("all_linear", "attention")), ("scope", SCOPES),
                             ("lr_schedule", ("cosine", "constant")), ("lifelong_lora", ("merge", "continue"))):
            if getattr(p, key) not in allowed:
                raise MuError(f"method {name}: {key} must be one of {', '.join(allowed)}, got '{getattr(p, key)}'")

    # ------------------------------------------------------------ structure
    def add_lora(self, model: nn.Module, adapter: GenerativeModel, name: str = "default") -> nn.Module:
        """A LoRA adapter ``name`` with this method's rank, alpha, dropout and targets (base weights frozen)."""
        p = self.params
        targets = adapter.linear_targets(model) if p.lora_targets == "all_linear" else None
        return adapter.add_lora(model, name, r=p.lora_r, alpha=p.lora_alpha, dropout=p.lora_dropout, targets=targets)

    def _train_projector(self, model: nn.Module) -> None:
        if self.params.scope == "projector+llm":
            for name, param in model.named_parameters():
                if any(k in name for k in PROJECTOR_KEYS):
                    param.requires_grad_(True)

    def prepare(self, model: nn.Module, adapter: GenerativeModel) -> nn.Module:
        """Called once before the first request (and on resume): attach the trainable adapter."""
        if is_peft(model):
            return model
        model = self.add_lora(model, adapter)
        self._train_projector(model)
        return model

    def state(self) -> dict[str, Any]:
        """Extra state to checkpoint besides the trainable weights (LUMoE's experts and router)."""
        return {"merged": True} if self.params.lifelong_lora == "merge" else {}

    def restore(self, model: nn.Module, adapter: GenerativeModel, state: dict[str, Any]) -> nn.Module:
        """Rebuild the structure a checkpoint's weights belong to (then the runner loads them): the plain
        model when the checkpoint holds merged weights (the next request attaches a fresh LoRA)."""
        if state.get("merged"):
            return model
        return self.prepare(model, adapter)

    def request_reference(self, ctx: QAContext) -> nn.Module | None:
        """The frozen reference for this request, taken before its first step (``None``: the original).
        ``request_start`` from the second request on: a frozen copy of the model as it stands (a fresh LoRA,
        which changes nothing until it trains, on the merged weights; or the one adapter, ``continue``)."""
        if self.params.reference_model == "original" or ctx.request_index == 0:
            return None  # the first request starts from the original
        ref = copy.deepcopy(ctx.model)
        for param in ref.parameters():
            param.requires_grad_(False)
        return ref.eval()

    def route(self, model: nn.Module, data: EncodedQA) -> list[str | None] | None:
        """Which adapter answers each row at evaluation (``None``: the base model); ``None`` for all
        rows as the model stands."""
        return None

    # ------------------------------------------------------------ training
    def loss(self, ctx: QAContext, forget: QABatch, retain: QABatch | None) -> torch.Tensor:
        raise NotImplementedError

    def unlearn(self, ctx: QAContext) -> nn.Module:  # type: ignore[override]
        if not is_peft(ctx.model):  # merged after the last request: a fresh LoRA on the merged weights
            ctx.model = self.prepare(ctx.model, ctx.adapter)
        model = self._train(ctx)
        if self.params.lifelong_lora == "merge" and is_peft(model):
            model = model.merge_and_unload()
            for param in model.parameters():
                param.requires_grad_(False)
        return model

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """AdamW in LLaVA's parameter groups (``param_groups``); a method trained with another reference's
        optimiser overrides it (RMU: WMDP's)."""
        p = self.params
        return torch.optim.AdamW(param_groups(model, lr=p.lr, projector_lr=p.projector_lr,
                                              weight_decay=p.weight_decay), lr=p.lr)

    def _train(self, ctx: QAContext) -> nn.Module:
        """``epochs`` passes over the forget set, a retain batch with every forget batch; AdamW in LLaVA's
        parameter groups, warm-up then cosine (or constant) learning rate, stepped per batch."""
        p = self.params
        opt = self.optimizer(ctx.model)
        total = p.epochs * steps_per_epoch(ctx.forget, p.batch_size)
        warm = warmup_steps(p.warmup_ratio, total)
        if p.lr_schedule == "cosine":
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: warmup_cosine(step, warm, total))
        else:
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: step / max(1, warm) if step < warm else 1.0)
        retain = ctx.cycle(ctx.retain, batch_size=p.batch_size)
        ctx.reference = self.request_reference(ctx)
        ctx.model.train()
        try:
            for batch in ctx.batches(ctx.forget, batch_size=p.batch_size, epochs=p.epochs):
                loss = self.loss(ctx, batch, next(retain))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        finally:
            ctx.reference = None  # a request-start copy is freed before the evaluation
        ctx.model.eval()
        return ctx.model


#: the name this class had before the redesign (issue 26); plugins written against it keep working
LLMMethod = GenerativeMethod
