"""``LLMMethod``: the base of unlearning methods for generative (LLM / MLLM) tasks.

A subclass writes its ``loss(ctx, forget_batch, retain_batch)``; this base attaches a LoRA adapter
to the model before the first request (MLUBench's setting: r=32, alpha=32, dropout 0.3), runs
``epochs`` passes over the forget set with a retain batch paired to every forget batch, and steps
AdamW on the trainable (adapter) weights. Requests of a lifelong stream keep training the same
adapter, so damage can accumulate as the papers report. Methods that need another structure
(LUMoE's adapter per request, RMU's unfrozen MLP layers) override ``prepare``/``unlearn``.

Example (gradient ascent, the whole method)::

    class GA(LLMMethod):
        def loss(self, ctx, forget, retain):
            return -answer_nll(ctx.logits(forget), forget.labels)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from .generative import GenerativeModel
from .method import Method
from .qa import EncodedQA, QABatch

REFUSALS = ("I don't know.", "I'm not sure about that.", "I cannot answer that.", "I have no information on that.",
            "Sorry, I don't know.")


def is_peft(model: nn.Module) -> bool:
    try:
        import peft
    except ImportError:
        return False
    return isinstance(model, peft.PeftModel)


@dataclass
class QAContext:
    """What a generative method is given for one request.

    Attributes:
        model: the model being unlearned (after ``prepare``: a peft model whose adapter trains).
        original: the model before any unlearning, frozen (used when the model is not a peft model).
        forget: the request's forget set (D_f), encoded; answers are labelled, prompts and images masked.
        retain: the request's retain set (D_r).
        adapter: the model plugin (forward passes, tokenizing, LoRA).
    """

    model: nn.Module
    original: nn.Module
    forget: EncodedQA
    retain: EncodedQA
    adapter: GenerativeModel
    request_index: int
    seed: int
    device: torch.device
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed * 1000 + self.request_index)

    def batches(self, split: EncodedQA, *, batch_size: int, epochs: int = 1, shuffle: bool = True) -> Iterator[QABatch]:
        from .training import note_epoch

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

    @torch.no_grad()
    def reference_logits(self, batch: QABatch) -> torch.Tensor:
        """Logits of the model before unlearning (the adapters switched off, or the frozen original)."""
        if is_peft(self.model):
            with self.model.disable_adapter():
                return self.adapter.forward(self.model, batch).detach()
        return self.adapter.forward(self.original, batch).detach()

    def hidden(self, batch: QABatch, layer: int, *, reference: bool = False) -> torch.Tensor:
        if not reference:
            return self.adapter.hidden_states(self.model, batch, layer)
        with torch.no_grad():
            if is_peft(self.model):
                with self.model.disable_adapter():
                    return self.adapter.hidden_states(self.model, batch, layer).detach()
            return self.adapter.hidden_states(self.original, batch, layer).detach()

    def refusals(self, split: EncodedQA) -> EncodedQA:
        """``split``'s prompts with a refusal as the answer (IdK's targets), chosen per row by the seed."""
        picks = torch.randint(len(REFUSALS), (len(split),), generator=self.generator).tolist()
        texts = [REFUSALS[i] for i in picks]
        return split.with_answers([self.adapter.tokenize_answer(t) for t in texts], texts)


class LLMMethod(Method):
    supports: ClassVar[frozenset[str]] = frozenset({"generation"})

    @dataclass
    class Params:
        lr: float = 5e-5
        epochs: int = 5
        batch_size: int = 8
        lora_r: int = 32
        lora_alpha: int = 32
        lora_dropout: float = 0.3

    # ------------------------------------------------------------ structure
    def prepare(self, model: nn.Module, adapter: GenerativeModel) -> nn.Module:
        """Called once before the first request (and on resume): attach the trainable adapter."""
        if is_peft(model):
            return model
        p = self.params
        return adapter.add_lora(model, "default", r=p.lora_r, alpha=p.lora_alpha, dropout=p.lora_dropout)

    def state(self) -> dict[str, Any]:
        """Extra state to checkpoint besides the trainable weights (LUMoE's experts and router)."""
        return {}

    def restore(self, model: nn.Module, adapter: GenerativeModel, state: dict[str, Any]) -> nn.Module:
        """Rebuild the structure a checkpoint's weights belong to (then the runner loads them)."""
        return self.prepare(model, adapter)

    def route(self, model: nn.Module, data: EncodedQA) -> list[str | None] | None:
        """Which adapter answers each row at evaluation (``None``: the base model); ``None`` for all
        rows as the model stands."""
        return None

    # ------------------------------------------------------------ training
    def loss(self, ctx: QAContext, forget: QABatch, retain: QABatch | None) -> torch.Tensor:
        raise NotImplementedError

    def unlearn(self, ctx: QAContext) -> nn.Module:  # type: ignore[override]
        p = self.params
        params = [q for q in ctx.model.parameters() if q.requires_grad]
        opt = torch.optim.AdamW(params, lr=p.lr)
        retain = ctx.cycle(ctx.retain, batch_size=p.batch_size)
        ctx.model.train()
        for batch in ctx.batches(ctx.forget, batch_size=p.batch_size, epochs=p.epochs):
            loss = self.loss(ctx, batch, next(retain))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        ctx.model.eval()
        return ctx.model
