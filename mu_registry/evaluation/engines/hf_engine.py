"""The transformers engine: batched evaluation on the model object itself (CPU or GPU).

Two paths give the same answers (tested: greedy text and chosen options equal, scores to float rounding):

- ``reuse=False``, the plain path: rows sorted by length and batched (no image row shares a batch with a
  text row), longest batch first so an automatic batch size finds its limit at once (``BatchSizer``);
  ``transformers``' ``generate`` (greedy, left padding, KV cache), full forward passes for likelihoods.
- ``reuse=True`` (the default; ``MU_ENGINE_REUSE=0`` in the environment turns it off) computes each thing
  once per state of the weights it depends on:

  * **identical rows once**: every answer, answer NLL and option score is memoised per row under the
    fingerprint of the tensors the request's route reads (``reuse.TensorDigests``: the base weights and
    the adapter that answers). A row asked again while those tensors are unchanged (a duplicate in a set,
    the generation pass then the likelihood pass over the same prompt, LUMoE's base route and its earlier
    experts after a new expert is added) is not computed again;
  * **shared prefixes once**: the longest token prefix the rows of a set share (a few-shot preamble, a
    system prompt, ``USER: <image>``: for an image row the prefix's key includes the image's content) is
    run once per distinct prefix and its key/value cache kept (``LRUBytes``, per weights state) and
    reused by every row that starts with it; only each row's remainder runs ("``[prefix][pad][rest]``",
    positions counted over real tokens, so the attention sees exactly the plain path's sequence);
  * **image features once**: for LLaVA models the vision tower's selected hidden states are kept per
    image content and vision-tower fingerprint (the tower is frozen in every method here; the fingerprint
    notices any change), the projector (which a method may train) runs on every call;
  * **less waste in a batch**: decoding written out (no logits processors), the last position's
    logits only, a row leaves the batch once it has emitted the end token or holds a stop string (its
    cache rows dropped), and no forward pass is run for a token past ``max_new_tokens``;
  * **the generation pass scores the reference**: the log-probability of every generated token is kept,
    so a reference answer the model generates itself under these weights (end token included) gets its
    NLL from generation without a likelihood pass.

Sampling (``Sampling``) is the same on both paths: the logits warped as transformers warps them
(``base.warp``), then one token per row from the row's own generator (``base.row_generator``, seeded by
the seed and the row's content; ``base.draw``): on the plain path as a logits processor after which
``generate``'s greedy step takes the drawn token. A row's answer depends on the seed and its content
only, not on the batch size, the order of rows or the path. A row may hold several images (a tuple:
MLLMU-Bench's one-shot example before a question); their features go in in order.

Both paths run under ``torch.inference_mode``. Multiple choice shares the prompt in both: one pass over
the prompts fills the KV cache, which is repeated once per option, and every option of every question is
scored in one continuation pass over it. Collated plain-path batches are kept per set and batch size
(``prepared_budget_mb``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

import mu_registry.evaluation.distributed as distributed
from mu_registry.evaluation.answer_cache import rows_digest
from mu_registry.api.generative_model import GenerativeModel
from mu_registry.training.losses import sequence_logprob
from mu_registry.training.peft import is_peft
from mu_registry.api.qa import IGNORE, EncodedQA, QABatch, collate_prompts, collate_qa, flat_images, group_rows
from mu_registry.evaluation.engines.base import (ACTIVE, BatchSizer, EvalEngine, Sampling, cut_at_stop, draw,
                                                 row_generator, warp)
from mu_registry.evaluation.engines.reuse import LRUBytes, TensorDigests, image_digest, route_filter


def _batch_bytes(batch: QABatch) -> int:
    tensors = [batch.input_ids, batch.attention_mask, batch.labels, batch.pixel_values]
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


@dataclass
class LlavaParts:
    """What the image-feature path needs of a LLaVA (transformers' ``LlavaForConditionalGeneration``)."""

    tower: nn.Module
    projector: nn.Module
    embed: nn.Module
    layer: int
    strategy: str
    image_token: int


def llava_parts(module: nn.Module) -> LlavaParts | None:
    """The vision tower, projector, embeddings and feature selection of a LLaVA-1.5-style model (plain or
    wrapped in peft); ``None`` for anything else (which then takes the plain pixel path)."""
    base = module.get_base_model() if is_peft(module) else module
    inner = getattr(base, "model", None)
    config = getattr(base, "config", None)
    if type(base).__name__ != "LlavaForConditionalGeneration" or inner is None or config is None:
        return None
    layer = getattr(config, "vision_feature_layer", None)
    token = getattr(config, "image_token_id", getattr(config, "image_token_index", None))
    if not isinstance(layer, int) or token is None:
        return None
    return LlavaParts(inner.vision_tower, inner.multi_modal_projector, base.get_input_embeddings(), layer,
                      config.vision_feature_select_strategy, int(token))


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


@dataclass
class Prefill:
    cache: Any  # the KV cache after every prompt token
    mask: torch.Tensor  # attention mask over the cached positions (prefix + padded rest)
    last: torch.Tensor  # logits of each row's last prompt token


class TransformersEngine(EvalEngine):
    name = "transformers"

    def __init__(self, adapter: GenerativeModel, module: nn.Module, *, device: torch.device,
                 batch_size: int | str = "auto", max_batch_size: int = 64, prepared_budget_mb: int | None = None,
                 reuse: bool | None = None, reuse_budget_mb: int | None = None, min_prefix: int = 4):
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
        # reuse
        self.reuse = reuse if reuse is not None else os.environ.get("MU_ENGINE_REUSE", "1") != "0"
        self.min_prefix = min_prefix
        reuse_bytes = (reuse_budget_mb if reuse_budget_mb is not None
                       else int(os.environ.get("MU_REUSE_BUDGET_MB", "2048"))) * 2 ** 20
        self.prefixes = LRUBytes(reuse_bytes // 2)  # (weights state, prefix key) -> per-layer (keys, values)
        self.features = LRUBytes(reuse_bytes // 2)  # (tower fingerprint, image digest) -> tower features
        self._digests = TensorDigests()
        self._tower_digests = TensorDigests()
        self._memo: OrderedDict[tuple, Any] = OrderedDict()
        self._greedy: OrderedDict[tuple, tuple[list[int], list[float]]] = OrderedDict()
        self.greedy_hits = 0
        self.memo_limit = 1_000_000
        self.memo_hits = 0
        self.rows_computed = 0

    def sync(self, module: nn.Module, rehash: bool = False) -> None:
        self.module = module
        self._weight_sync(module)  # launched on several processes: everyone evaluates rank 0's weights
        if rehash:
            self._digests.clear()
            self._tower_digests.clear()

    def _sharded(self, work, data: EncodedQA) -> list[Any]:
        """Under a launcher with several processes: this process's share of the rows, gathered."""
        self._local = True
        try:
            mine = list(work(data.take(distributed.shard(len(data)))))
        finally:
            self._local = False
        return distributed.gather_rows(len(data), mine)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "batch_size": self.sizer.requested, "found_batch_sizes": dict(self.sizer.found),
                "reuse": self.reuse}

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

    # --- reuse: weights state, row memo ------------------------------------------------------

    def _state(self, adapter: str | None) -> str:
        """A fingerprint of what answers a request: the tensors its route reads, which adapter is active
        (for ``ACTIVE``) and the model's configuration."""
        module = self.module
        h = hashlib.sha256(self._digests.fingerprint(module, route_filter(module, adapter)).encode())
        h.update(repr(adapter).encode())
        if adapter == ACTIVE:
            h.update(repr(getattr(module, "active_adapters", None)).encode())
        base = module.get_base_model() if is_peft(module) else module
        config = getattr(base, "config", None)
        h.update((config.to_json_string() if hasattr(config, "to_json_string") else type(base).__name__).encode())
        return h.hexdigest()[:32]

    def _row_keys(self, data: EncodedQA, extra: Callable[[int], Any]) -> list[tuple]:
        return [(tuple(data.prompts[i]), image_digest(data.images[i]) if data.images[i] is not None else None,
                 extra(i)) for i in range(len(data))]

    def _memoised(self, data: EncodedQA, kind: str, request: Any, adapter: str | None,
                  extra: Callable[[int], Any], compute: Callable[[EncodedQA], list[Any]]) -> list[Any]:
        """Each distinct row computed once per weights state; the rest read back."""
        state = self._state(adapter)
        keys = [(state, kind, request, k) for k in self._row_keys(data, extra)]
        out: list[Any] = [None] * len(data)
        todo: dict[tuple, list[int]] = {}
        for i, k in enumerate(keys):
            if k in self._memo:
                self._memo.move_to_end(k)
                out[i] = self._memo[k]
                self.memo_hits += 1
            else:
                todo.setdefault(k, []).append(i)
        if todo:
            firsts = [rows[0] for rows in todo.values()]
            got = compute(data.take(firsts))
            self.rows_computed += len(firsts)
            for (k, rows), value in zip(todo.items(), got):
                self._memo[k] = value
                for i in rows:
                    out[i] = value
            while len(self._memo) > self.memo_limit:
                self._memo.popitem(last=False)
        return out

    # --- reuse: image features, shared prefixes, prefill -------------------------------------

    def _image_features(self, parts: LlavaParts, images: list[Any]) -> torch.Tensor:
        """Projected features per image (N × tokens × width): the tower's output from the cache where the
        image content and the tower's weights were seen before, the projector run every time."""
        tower_fp = self._tower_digests.fingerprint(parts.tower)  # the tower's own names: wrapping changes nothing
        cacheable = not any("lora_" in n for n in parts.tower.state_dict(keep_vars=True))
        digests = [image_digest(img) if cacheable else None for img in images]
        found: dict[Any, torch.Tensor] = {}  # by digest (an image without one by its position)
        keys = [d if d is not None else i for i, d in enumerate(digests)]
        for k in dict.fromkeys(keys):
            if isinstance(k, str) and (hit := self.features.get((tower_fp, k))) is not None:
                found[k] = hit
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            first = {k: keys.index(k) for k in missing}
            pixels = self.adapter.pixel_values([images[first[k]] for k in missing]).to(self.device)
            tower = parts.tower(pixels.to(parts.projector.linear_1.weight.dtype), output_hidden_states=True,
                                return_dict=True)
            selected = tower.hidden_states[parts.layer]
            if parts.strategy == "default":
                selected = selected[:, 1:]
            for j, k in enumerate(missing):
                found[k] = selected[j]
                if isinstance(k, str):
                    self.features.put((tower_fp, k), selected[j].clone())
        return parts.projector(torch.stack([found[k] for k in keys]))

    def _embeds(self, parts: LlavaParts, ids: torch.Tensor, images: list[Any]) -> torch.Tensor:
        """Token embeddings with each row's image features where its image placeholders are (rows in order, a
        row's images in order, as LLaVA's ``masked_scatter`` places them)."""
        emb = parts.embed(ids)
        where = ids == parts.image_token
        rows = [i for i in range(ids.shape[0]) if bool(where[i].any())]
        if rows:
            feats = self._image_features(parts, flat_images([images[i] for i in rows]))
            emb = emb.clone()
            emb[where] = feats.reshape(-1, feats.shape[-1]).to(emb.dtype)
        return emb

    def _prefix_length(self, data: EncodedQA, rows: np.ndarray, parts: LlavaParts | None) -> int:
        """The prefix every row of ``rows`` starts with (one token short of the shortest prompt at most);
        for image rows without the feature path it stops before the image; 0 when too short to matter."""
        if len(rows) == 0:
            return 0
        prompts = [data.prompts[int(r)] for r in rows]
        n = min(_common_prefix(min(prompts), max(prompts)), min(len(p) for p in prompts) - 1)
        if data.images[int(rows[0])] is not None:
            if parts is None:
                return 0  # the plain pixel path: the image goes in with the whole prompt
            spans = [(p.index(parts.image_token), len(p) - p[::-1].index(parts.image_token))
                     for p in prompts if parts.image_token in p]
            if any(first < n < last for first, last in spans):
                n = min(first for first, _ in spans)
        return n if n >= self.min_prefix else 0

    def _prefix_cache(self, data: EncodedQA, rows: list[int], n: int, state: str, parts: LlavaParts | None):
        """Per-layer (keys, values) of the first ``n`` tokens for every row, each distinct prefix run once
        per weights state (kept across calls)."""
        prefix = data.prompts[rows[0]][:n]
        with_image = data.images[rows[0]] is not None and parts is not None and parts.image_token in prefix
        token_key = hashlib.sha256(np.asarray(prefix, dtype=np.int64).tobytes()).hexdigest()[:24]
        keys = [(state, n, token_key, image_digest(data.images[r]) if with_image else None) for r in rows]
        have: dict[tuple, Any] = {}
        new: dict[tuple, int] = {}
        for k, r in zip(keys, rows):
            if k in have or k in new:
                continue
            hit = self.prefixes.get(k) if k[3] is not None or not with_image else None
            if hit is not None:
                have[k] = hit
            else:
                new[k] = r
        if new:
            reps = list(new.values())
            ids = torch.tensor([data.prompts[r][:n] for r in reps], dtype=torch.long, device=self.device)
            inputs = ({"inputs_embeds": self._embeds(parts, ids, [data.images[r] for r in reps])} if with_image
                      else {"input_ids": ids})
            out = self.module(attention_mask=torch.ones_like(ids), position_ids=torch.arange(n, device=self.device)
                              .expand(len(reps), n), use_cache=True, logits_to_keep=1, **inputs)
            layers = [(layer.keys, layer.values) for layer in _cache_of(out).layers]
            for j, k in enumerate(new):
                kv = [(key[j:j + 1], value[j:j + 1]) for key, value in layers]
                have[k] = kv
                if k[3] is not None or not with_image:
                    self.prefixes.put(k, kv)
        per_row = [have[k] for k in keys]
        return [(torch.cat([p[i][0] for p in per_row]), torch.cat([p[i][1] for p in per_row]))
                for i in range(len(per_row[0]))]

    def _cache_kw(self) -> str:
        """``cache`` in transformers 5.24+ (``past_key_values`` is deprecated there), else ``past_key_values``."""
        import inspect

        base = self.module.get_base_model() if is_peft(self.module) else self.module
        try:
            params = inspect.signature(base.forward).parameters
        except (TypeError, ValueError):
            return "past_key_values"
        return "cache" if "cache" in params else "past_key_values"

    def _config(self):
        base = self.module.get_base_model() if is_peft(self.module) else self.module
        config = getattr(base, "config", None)
        return config.get_text_config() if hasattr(config, "get_text_config") else config

    def _run_rest(self, data: EncodedQA, rows: list[int], n: int, state: str, parts: LlavaParts | None,
                  tails: list[list[int]], keep: int):
        """The prefix cache (computed or reused), then every row's remaining tokens ``tails`` right-aligned
        after it: ``[prefix][pad][tail]``. Returns the model output (logits of the last ``keep`` positions)
        and the attention mask."""
        from transformers import DynamicCache

        width = max(len(t) for t in tails)
        ids = torch.full((len(rows), width), self.adapter.pad_id, dtype=torch.long)
        rest = torch.zeros((len(rows), width), dtype=torch.long)
        for i, t in enumerate(tails):
            ids[i, width - len(t):] = torch.tensor(t)
            rest[i, width - len(t):] = 1
        ids, rest = ids.to(self.device), rest.to(self.device)
        mask = torch.cat([torch.ones((len(rows), n), dtype=torch.long, device=self.device), rest], 1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n:]
        kwargs: dict[str, Any] = {"attention_mask": mask, "position_ids": positions, "use_cache": True,
                                  "logits_to_keep": keep}
        if n:
            prefix = self._prefix_cache(data, rows, n, state, parts)
            kwargs[self._cache_kw()] = DynamicCache(prefix, config=self._config())
        images = [data.images[r] for r in rows]
        if images[0] is None or parts is not None and not bool((ids == parts.image_token).any()):
            kwargs["input_ids"] = ids
        elif parts is not None:
            kwargs["inputs_embeds"] = self._embeds(parts, ids, images)
        else:  # no feature path: the prefix stops before the image, whose tokens are all in the rest
            kwargs["input_ids"] = ids
            kwargs["pixel_values"] = self.adapter.pixel_values(flat_images(images)).to(self.device)
        return self.module(**kwargs), mask

    def _prefill(self, data: EncodedQA, rows: list[int], n: int, state: str, parts: LlavaParts | None) -> Prefill:
        out, mask = self._run_rest(data, rows, n, state, parts, [data.prompts[r][n:] for r in rows], 1)
        return Prefill(_cache_of(out), mask, out.logits[:, -1])

    def _plan(self, data: EncodedQA, batch_size: int, lengths: list[int]) -> list[tuple[list[int], int]]:
        """Batches (longest first, image rows apart from text rows) and each batch's shared prefix length."""
        parts = llava_parts(self.module)
        order = np.argsort([-n for n in lengths], kind="stable")
        has = data.has_image
        prefix = {flag: self._prefix_length(data, np.flatnonzero(has == flag), parts) for flag in (True, False)}
        return [([int(r) for r in rows], prefix[bool(has[int(rows[0])])])
                for rows in group_rows(data, batch_size, order)]

    # --- requests ----------------------------------------------------------------------------

    def loglikelihood(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        if distributed.active() and not self._local:
            return np.asarray(self._sharded(lambda d: self.loglikelihood(d, adapter=adapter), data), dtype=np.float64)
        if len(data) == 0:
            return np.zeros(0)
        self.module.eval()
        with torch.inference_mode(), self._scope(adapter):
            if not self.reuse:
                return self.sizer.run("loglikelihood", lambda bs: self._plain_loglikelihood(data, bs))
            got = self._memoised(data, "nll", None, adapter, lambda i: tuple(data.answers[i]),
                                 lambda sub: list(self.sizer.run("loglikelihood",
                                                                 lambda bs: self._reuse_loglikelihood(sub, adapter,
                                                                                                      bs))))
            return np.asarray(got, dtype=np.float64)

    def _plain_loglikelihood(self, data: EncodedQA, batch_size: int) -> np.ndarray:
        out = np.zeros(len(data), dtype=np.float64)
        for cpu_batch in self._batches(data, "qa", batch_size):
            batch = cpu_batch.to(self.device)
            logits = self.adapter.forward(self.module, batch)
            lp, n = sequence_logprob(logits, batch.labels)
            out[batch.positions] = (-lp / n.clamp(min=1)).float().cpu().numpy()
        return out

    def _reuse_loglikelihood(self, data: EncodedQA, adapter: str | None, batch_size: int) -> np.ndarray:
        out, todo = self._from_greedy(data, adapter)
        if not todo:
            return out
        rest = data.take(todo)
        out[todo] = self._scored_loglikelihood(rest, adapter, batch_size)
        return out

    def _scored_loglikelihood(self, data: EncodedQA, adapter: str | None, batch_size: int) -> np.ndarray:
        out = np.zeros(len(data), dtype=np.float64)
        state = self._state(adapter)
        parts = llava_parts(self.module)
        for rows, n in self._plan(data, batch_size, [len(p) + len(a) for p, a in zip(data.prompts, data.answers)]):
            answers = [data.answers[r] for r in rows]
            keep = max(len(a) for a in answers) + 1
            output, _ = self._run_rest(data, rows, n, state, parts, [data.prompts[r][n:] + data.answers[r]
                                                                     for r in rows], keep)
            labels = torch.full((len(rows), keep), IGNORE, dtype=torch.long)
            for i, a in enumerate(answers):
                labels[i, keep - len(a):] = torch.tensor(a)
            lp, count = sequence_logprob(output.logits, labels.to(self.device))
            out[rows] = (-lp / count.clamp(min=1)).float().cpu().numpy()
        return out

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
        if len(data) == 0:
            return np.zeros((0, width))
        self.module.eval()
        with torch.inference_mode(), self._scope(adapter):
            if not self.reuse:
                return self.sizer.run("choice", lambda bs: self._choice_scores(data, bs, adapter))
            got = self._memoised(data, "choice", None, adapter, lambda i: tuple(data.options[i]),
                                 lambda sub: list(self.sizer.run("choice",
                                                                 lambda bs: self._choice_scores(sub, bs, adapter))))
            out = np.full((len(data), width), np.inf)
            for i, row in enumerate(got):
                out[i, :len(data.options[i])] = row[:len(data.options[i])]
            return out

    def _choice_scores(self, data: EncodedQA, batch_size: int, adapter: str | None) -> np.ndarray:
        option_ids = [[self.adapter.tokenize_answer(t) for t in opts] for opts in data.options]
        width = max(len(o) for o in data.options)
        scores = np.full((len(data), width), np.inf)
        if not self.reuse:
            for cpu_batch in self._batches(data, "prompt", batch_size):
                batch = cpu_batch.to(self.device)
                positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
                out = self.module(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                  position_ids=positions, use_cache=True, logits_to_keep=1, **self._kwargs(batch))
                filled = Prefill(_cache_of(out), batch.attention_mask, out.logits[:, -1])
                self._score_options(filled, [int(r) for r in batch.positions], option_ids, width, scores)
            return scores
        state = self._state(adapter)
        parts = llava_parts(self.module)
        for rows, n in self._plan(data, batch_size, [len(p) for p in data.prompts]):
            self._score_options(self._prefill(data, rows, n, state, parts), rows, option_ids, width, scores)
        return scores

    def _score_options(self, filled: Prefill, rows: list[int], option_ids: list[list[list[int]]], width: int,
                       scores: np.ndarray) -> None:
        """After one pass over the prompts (logits of the last position only), every option of every row as
        one batch of continuations over the prompt cache repeated once per option."""
        mask = filled.mask
        first = filled.last.float().log_softmax(-1).repeat_interleave(width, 0)
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
            cache = filled.cache
            cache.batch_repeat_interleave(width)
            prompt_len = mask.sum(-1, keepdim=True).repeat_interleave(width, 0)
            step = self.module(input_ids=ids[:, :-1],
                               attention_mask=torch.cat([mask.repeat_interleave(width, 0), cmask[:, :-1]], 1),
                               position_ids=prompt_len + torch.arange(length - 1, device=self.device),
                               use_cache=False, **{self._cache_kw(): cache})
            rest = step.logits.float().log_softmax(-1).gather(2, ids[:, 1:, None])[..., 0]
            logp = torch.cat([logp, rest], 1)
        nll = (-(logp * cmask).sum(1) / cmask.sum(1).clamp(min=1)).view(len(rows), width).cpu().numpy()
        for i, r in enumerate(rows):
            k = len(option_ids[r])
            scores[r, :k] = nll[i, :k]

    def generate(self, data: EncodedQA, *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 adapter: str | None = ACTIVE, sampling: Sampling | None = None) -> list[str]:
        if distributed.active() and not self._local:
            return self._sharded(lambda d: self.generate(d, max_new_tokens=max_new_tokens, stop=stop,
                                                         adapter=adapter, sampling=sampling), data)
        if len(data) == 0:
            return []
        self.module.eval()
        with torch.inference_mode(), self._scope(adapter):
            if not self.reuse:
                return self.sizer.run("generate",
                                      lambda bs: self._plain_generate(data, max_new_tokens, stop, bs, sampling))
            return self._memoised(
                data, "generate", (max_new_tokens, tuple(stop), sampling), adapter, lambda i: None,
                lambda sub: self.sizer.run("generate", lambda bs: self._reuse_generate(sub, max_new_tokens, stop,
                                                                                       adapter, bs, sampling)))

    def _finish(self, ids: list[int], stop: tuple[str, ...]) -> str:
        eos = self.adapter.eos_id
        if eos in ids:
            ids = ids[:ids.index(eos)]
        return cut_at_stop(self.adapter.decode(ids), stop).strip()

    def _plain_generate(self, data: EncodedQA, max_new_tokens: int, stop: tuple[str, ...],
                        batch_size: int, sampling: Sampling | None = None) -> list[str]:
        out = [""] * len(data)
        row_keys = self._row_keys(data, lambda _: None) if sampling is not None else []
        for cpu_batch in self._batches(data, "prompt", batch_size):
            batch = cpu_batch.to(self.device)
            extra = self._kwargs(batch)
            if stop:  # rows stop as soon as their text holds a stop string; the batch when all have
                extra["stopping_criteria"] = self._stop_criteria(stop, batch.input_ids.shape[1])
            if sampling is not None:  # the drawn token is the only one left for the greedy step
                extra["logits_processor"] = self._sampler(
                    sampling, [row_generator(sampling.seed, row_keys[int(r)]) for r in batch.positions])
            seqs = self.module.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                        max_new_tokens=max_new_tokens, do_sample=False,
                                        pad_token_id=self.adapter.pad_id, eos_token_id=self.adapter.eos_id, **extra)
            for row, ids in zip(batch.positions, seqs[:, batch.input_ids.shape[1]:].cpu().tolist()):
                out[int(row)] = self._finish(ids, stop)
        return out

    def _reuse_generate(self, data: EncodedQA, max_new_tokens: int, stop: tuple[str, ...], adapter: str | None,
                        batch_size: int, sampling: Sampling | None = None) -> list[str]:
        """Decoding as ``generate`` does it without logits processors: argmax of the last position (or, with
        ``sampling``, a draw from the warped logits with the row's generator), a row finished at the end token
        or a stop string, no forward pass after the last allowed token. Finished rows leave the batch (their
        cache rows are dropped) instead of being fed padding to the end, and the log-probability (unwarped) of
        every generated token is kept: a reference answer the model would itself generate is scored from it
        (``loglikelihood``) without another pass."""
        out = [""] * len(data)
        state = self._state(adapter)
        parts = llava_parts(self.module)
        eos = self.adapter.eos_id
        cache_kw = self._cache_kw()
        row_keys = self._row_keys(data, lambda _: None)
        for rows, n in self._plan(data, batch_size, [len(p) for p in data.prompts]):
            filled = self._prefill(data, rows, n, state, parts)
            cache, mask, logits = filled.cache, filled.mask, filled.last
            position = mask.sum(-1, keepdim=True)
            active = list(range(len(rows)))  # batch rows still generating, in cache order
            tokens: list[list[int]] = [[] for _ in rows]
            logps: list[list[float]] = [[] for _ in rows]
            gens = [row_generator(sampling.seed, row_keys[r]) for r in rows] if sampling is not None else []
            for step in range(max_new_tokens):
                if sampling is None:
                    nxt = logits.argmax(-1)
                else:
                    nxt = draw(warp(logits, sampling), [gens[i] for i in active])
                lp = logits.float().log_softmax(-1).gather(1, nxt[:, None])[:, 0]
                still = []
                for j, (i, t, v) in enumerate(zip(active, nxt.tolist(), lp.tolist())):
                    tokens[i].append(t)
                    logps[i].append(v)
                    finished = t == eos or (stop and any(s in self.adapter.decode(tokens[i]) for s in stop))
                    if not finished:
                        still.append(j)
                if not still or step == max_new_tokens - 1:
                    break
                if len(still) < len(active):
                    keep = torch.tensor(still, device=self.device)
                    cache.batch_select_indices(keep)
                    mask, position, nxt = mask[keep], position[keep], nxt[keep]
                    active = [active[j] for j in still]
                mask = torch.cat([mask, torch.ones((len(active), 1), dtype=mask.dtype, device=self.device)], 1)
                step_out = self.module(input_ids=nxt[:, None], attention_mask=mask, position_ids=position,
                                       use_cache=True, **{cache_kw: cache})
                cache, logits = _cache_of(step_out), step_out.logits[:, -1]
                position = position + 1
            for i, r in enumerate(rows):
                out[r] = self._finish(tokens[i], stop)
                self._greedy[(state, row_keys[r])] = (tokens[i], logps[i])
            while len(self._greedy) > self.memo_limit:
                self._greedy.popitem(last=False)
        return out

    def _from_greedy(self, data: EncodedQA, adapter: str | None) -> tuple[np.ndarray, list[int]]:
        """Answer NLLs read from kept greedy log-probabilities where the reference answer (end token
        included) is what the model generated under these weights; the rows that need a pass."""
        state = self._state(adapter)
        nll = np.zeros(len(data))
        todo = []
        for i, key in enumerate(self._row_keys(data, lambda _: None)):
            got = self._greedy.get((state, key))
            answer = data.answers[i]
            if got is not None and answer and got[0][:len(answer)] == list(answer):
                nll[i] = -float(np.mean(got[1][:len(answer)]))
                self.greedy_hits += 1
            else:
                todo.append(i)
        return nll, todo

    @staticmethod
    def _sampler(sampling: Sampling, generators: list[torch.Generator]):
        """A logits processor for ``generate``'s greedy step: the token each row draws (``warp`` then ``draw``,
        the row's ``generators`` in batch order) scored 0, every other token -inf."""
        from transformers import LogitsProcessor, LogitsProcessorList

        class Draw(LogitsProcessor):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
                picked = draw(warp(scores, sampling), generators)
                out = torch.full_like(scores, float("-inf"))
                return out.scatter(1, picked[:, None], 0.0)

        return LogitsProcessorList([Draw()])

    def _stop_criteria(self, stop: tuple[str, ...], prompt_width: int):
        from transformers import StoppingCriteria, StoppingCriteriaList

        decode = self.adapter.decode

        class StopStrings(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
                tails = input_ids[:, prompt_width:].tolist()
                return torch.tensor([any(s in decode(t) for s in stop) for t in tails], dtype=torch.bool,
                                    device=input_ids.device)

        return StoppingCriteriaList([StopStrings()])
