"""The transformers engine: batched evaluation on the model object itself (CPU or GPU).

- Rows are sorted by length and batched (no image row shares a batch with a text row); the longest
  batch goes first so an automatic batch size finds its limit at once (``BatchSizer``).
- Everything runs under ``torch.inference_mode``; generation is greedy with left padding and the KV
  cache.
- Multiple choice shares the prompt: one forward pass over the (left-padded) prompts fills the KV
  cache, which is repeated once per option, and every option of every question is scored in one
  continuation pass over it. The prompt, usually most of the tokens and the image, is encoded once
  per question instead of once per option.
- Collated batches (token tensors and image pixels) are prepared once per set and batch size and kept
  (least recently used first out, within ``prepared_budget_mb``): the evaluation sets that do not
  change between unlearning requests are not collated or pre-processed again.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import distributed
from ..answer_cache import rows_digest
from ..generative import GenerativeModel
from ..llm_losses import sequence_logprob
from ..llm_method import is_peft
from ..qa import EncodedQA, QABatch, collate_prompts, collate_qa, group_rows
from .base import ACTIVE, BatchSizer, EvalEngine, cut_at_stop


def _batch_bytes(batch: QABatch) -> int:
    tensors = [batch.input_ids, batch.attention_mask, batch.labels, batch.pixel_values]
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class TransformersEngine(EvalEngine):
    name = "transformers"

    def __init__(self, adapter: GenerativeModel, module: nn.Module, *, device: torch.device,
                 batch_size: int | str = "auto", max_batch_size: int = 64, prepared_budget_mb: int | None = None):
        self.adapter = adapter
        self.module = module
        self.device = device
        self.sizer = BatchSizer(batch_size, max_batch_size)
        budget = prepared_budget_mb if prepared_budget_mb is not None else int(
            os.environ.get("MU_PREPARED_BUDGET_MB", "1024"))
        self._budget = budget * 2 ** 20
        self._prepared: OrderedDict[tuple[str, str, int], list[QABatch]] = OrderedDict()
        self._prepared_bytes = 0
        self.prepared_hits = 0
        self._weight_sync = distributed.WeightSync()
        self._local = False

    def sync(self, module: nn.Module) -> None:
        self.module = module
        self._weight_sync(module)  # launched on several processes: everyone evaluates rank 0's weights

    def _sharded(self, work, data: EncodedQA) -> list[Any]:
        """Under a launcher with several processes: this process's share of the rows, gathered."""
        self._local = True
        try:
            mine = list(work(data.take(distributed.shard(len(data)))))
        finally:
            self._local = False
        return distributed.gather_rows(len(data), mine)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "batch_size": self.sizer.requested, "found_batch_sizes": dict(self.sizer.found)}

    # --- batches -----------------------------------------------------------------------------

    def _batches(self, data: EncodedQA, kind: str, batch_size: int) -> list[QABatch]:
        """Collated CPU batches, longest first: ``prompt`` (left-padded prompts) or ``qa`` (prompt+answer)."""
        key = (rows_digest(data), kind, batch_size)
        if key in self._prepared:
            self._prepared.move_to_end(key)
            self.prepared_hits += 1
            return self._prepared[key]
        if kind == "prompt":
            lengths = [len(p) for p in data.prompts]
            collate = collate_prompts
        else:
            lengths = [len(p) + len(a) for p, a in zip(data.prompts, data.answers)]
            collate = collate_qa
        order = np.argsort([-n for n in lengths], kind="stable")
        batches = [collate(data, rows, pad_id=self.adapter.pad_id, pixels=self.adapter.pixel_values)
                   for rows in group_rows(data, batch_size, order)]
        batches.sort(key=lambda b: -b.input_ids.numel())
        size = sum(_batch_bytes(b) for b in batches)
        if size <= self._budget:
            self._prepared[key] = batches
            self._prepared_bytes += size
            while self._prepared_bytes > self._budget:
                _, old = self._prepared.popitem(last=False)
                self._prepared_bytes -= sum(_batch_bytes(b) for b in old)
        return batches

    def _scope(self, adapter: str | None):
        module = self.module
        if adapter == ACTIVE:
            return contextlib.nullcontext()
        if adapter is None:
            return module.disable_adapter() if is_peft(module) else contextlib.nullcontext()
        module.set_adapter(adapter)
        return contextlib.nullcontext()

    def _kwargs(self, batch: QABatch) -> dict[str, Any]:
        return {"pixel_values": batch.pixel_values} if batch.pixel_values is not None else {}

    # --- requests ----------------------------------------------------------------------------

    def loglikelihood(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        if distributed.active() and not self._local:
            return np.asarray(self._sharded(lambda d: self.loglikelihood(d, adapter=adapter), data), dtype=np.float64)

        def work(batch_size: int) -> np.ndarray:
            out = np.zeros(len(data), dtype=np.float64)
            for cpu_batch in self._batches(data, "qa", batch_size):
                batch = cpu_batch.to(self.device)
                logits = self.adapter.forward(self.module, batch)
                lp, n = sequence_logprob(logits, batch.labels)
                out[batch.positions] = (-lp / n.clamp(min=1)).float().cpu().numpy()
            return out

        if len(data) == 0:
            return np.zeros(0)
        self.module.eval()
        with torch.inference_mode(), self._scope(adapter):
            return self.sizer.run("loglikelihood", work)

    def choice_scores(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        assert data.options is not None, "multiple choice needs options"
        width = max((len(o) for o in data.options), default=0)
        if distributed.active() and not self._local:
            rows = self._sharded(lambda d: self.choice_scores(d, adapter=adapter), data)
            out = np.full((len(data), width), np.inf)
            for i, row in enumerate(rows):
                k = len(data.options[i])
                out[i, :k] = row[:k]
            return out
        option_ids = [[self.adapter.tokenize_answer(t) for t in opts] for opts in data.options]

        def work(batch_size: int) -> np.ndarray:
            scores = np.full((len(data), width), np.inf)
            for cpu_batch in self._batches(data, "prompt", batch_size):
                batch = cpu_batch.to(self.device)
                self._score_options(batch, option_ids, width, scores)
            return scores

        if len(data) == 0:
            return np.zeros((0, width))
        self.module.eval()
        with torch.inference_mode(), self._scope(adapter):
            return self.sizer.run("choice", work)

    def _score_options(self, batch: QABatch, option_ids: list[list[list[int]]], width: int,
                       scores: np.ndarray) -> None:
        """One pass over the prompts (logits of the last position only), then every option of every row
        as one batch of continuations over the prompt cache repeated once per option."""
        mask = batch.attention_mask
        rows = [int(r) for r in batch.positions]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.module(input_ids=batch.input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          logits_to_keep=1, **self._kwargs(batch))
        first = out.logits[:, -1].float().log_softmax(-1).repeat_interleave(width, 0)
        pad = self.adapter.pad_id
        conts = [option_ids[r][k] if k < len(option_ids[r]) else [pad] for r in rows for k in range(width)]
        length = max(len(c) for c in conts)
        ids = torch.full((len(conts), length), pad, dtype=torch.long)
        cmask = torch.zeros((len(conts), length), dtype=torch.long)
        for i, c in enumerate(conts):
            ids[i, :len(c)] = torch.tensor(c)
            cmask[i, :len(c)] = 1
        ids, cmask = ids.to(self.device), cmask.to(self.device)
        logp = first.gather(1, ids[:, :1])
        if length > 1:
            cache = out.past_key_values
            cache.batch_repeat_interleave(width)
            prompt_len = mask.sum(-1, keepdim=True).repeat_interleave(width, 0)
            step = self.module(input_ids=ids[:, :-1],
                               attention_mask=torch.cat([mask.repeat_interleave(width, 0), cmask[:, :-1]], 1),
                               position_ids=prompt_len + torch.arange(length - 1, device=self.device),
                               past_key_values=cache, use_cache=False)
            rest = step.logits.float().log_softmax(-1).gather(2, ids[:, 1:, None])[..., 0]
            logp = torch.cat([logp, rest], 1)
        nll = (-(logp * cmask).sum(1) / cmask.sum(1).clamp(min=1)).view(len(rows), width).cpu().numpy()
        for i, r in enumerate(rows):
            k = len(option_ids[r])
            scores[r, :k] = nll[i, :k]

    def generate(self, data: EncodedQA, *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 adapter: str | None = ACTIVE) -> list[str]:
        if distributed.active() and not self._local:
            return self._sharded(lambda d: self.generate(d, max_new_tokens=max_new_tokens, stop=stop,
                                                         adapter=adapter), data)
        eos = self.adapter.eos_id

        def work(batch_size: int) -> list[str]:
            out = [""] * len(data)
            for cpu_batch in self._batches(data, "prompt", batch_size):
                batch = cpu_batch.to(self.device)
                extra = self._kwargs(batch)
                if stop:  # rows stop as soon as their text holds a stop string; the batch when all have
                    extra["stopping_criteria"] = self._stop_criteria(stop, batch.input_ids.shape[1])
                seqs = self.module.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                            max_new_tokens=max_new_tokens, do_sample=False,
                                            pad_token_id=self.adapter.pad_id, eos_token_id=eos, **extra)
                for row, ids in zip(batch.positions, seqs[:, batch.input_ids.shape[1]:].cpu().tolist()):
                    if eos in ids:
                        ids = ids[:ids.index(eos)]
                    out[int(row)] = cut_at_stop(self.adapter.decode(ids), stop).strip()
            return out

        if len(data) == 0:
            return []
        self.module.eval()
        with torch.inference_mode(), self._scope(adapter):
            return self.sizer.run("generate", work)

    def _stop_criteria(self, stop: tuple[str, ...], prompt_width: int):
        from transformers import StoppingCriteria, StoppingCriteriaList

        decode = self.adapter.decode

        class StopStrings(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
                tails = input_ids[:, prompt_width:].tolist()
                return torch.tensor([any(s in decode(t) for s in stop) for t in tails], dtype=torch.bool,
                                    device=input_ids.device)

        return StoppingCriteriaList([StopStrings()])
