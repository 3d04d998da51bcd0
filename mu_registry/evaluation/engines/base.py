"""The evaluation engine interface: the three kinds of request the tasks make of a model.

- ``class_scores``: logits of a classifier over a set (MU-Bench);
- ``choice_scores`` / ``choose``: log-likelihood of each option of a multiple-choice question (PULSE on
  MLLMU-Bench, lm-eval-style benchmarks);
- ``generate``: greedy or sampled answers (``Sampling``) until end of sequence, a stop string or a token
  budget (MLUBench), and ``loglikelihood`` of the reference answers (answer NLL, reported with every set).

Which weights answer is chosen per call: ``adapter=ACTIVE`` (the module as it is), ``None`` (the base
model with every LoRA adapter off) or an adapter's name (LUMoE routes rows to its experts). After the
weights change (a new unlearning request) the runner calls ``sync(module)`` so an engine that keeps
its own copy of the weights (vLLM) can take the new adapter or weights in.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from mu_registry.api.qa import EncodedQA
from mu_registry.config.sampling import Sampling

log = logging.getLogger(__name__)

ACTIVE = "<active>"
T = TypeVar("T")


def is_oom(exc: BaseException) -> bool:
    """An out-of-memory error from CUDA or from the CPU allocator."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def warp(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Rows × vocabulary scores to sample from: transformers' ``TemperatureLogitsWarper`` (divide),
    ``TopKLogitsWarper`` (below the k-th largest score: -inf; ties kept) and ``TopPLogitsWarper`` (ascending
    order, the tokens whose cumulative probability is at most 1 - top_p: -inf, the likeliest always kept), in
    that order, in float32."""
    scores = logits.float() / sampling.temperature
    if sampling.top_k > 0:
        k = min(sampling.top_k, scores.shape[-1])
        kth = torch.topk(scores, k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if sampling.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=False)
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative <= (1 - sampling.top_p)
        drop[..., -1:] = False
        scores = scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return scores


def row_seed(seed: int, key: Any) -> int:
    """A row's own seed: ``seed`` and the row's content key (``repr`` of its prompt tokens and image digests)
    hashed, so rows with the same content draw the same tokens and no row's draws depend on another's."""
    digest = hashlib.sha256(f"{seed}|{key!r}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2 ** 63 - 1)


def row_generator(seed: int, key: Any) -> torch.Generator:
    """A CPU generator for one row, seeded with ``row_seed``."""
    return torch.Generator().manual_seed(row_seed(seed, key))


def draw(scores: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """One token per row sampled from ``softmax(scores)`` (warped scores): the Gumbel-max trick, ``argmax(scores
    + g)`` with ``g = -log(-log(u))`` and ``u`` uniform, one vocabulary's worth of ``u`` drawn from each row's own
    generator per step (float64, on the CPU: the same draws on any device)."""
    width = scores.shape[-1]
    u = torch.stack([torch.rand(width, generator=g, dtype=torch.float64) for g in generators])
    gumbel = -torch.log(-torch.log(u))
    return (scores.detach().double().cpu() + gumbel).argmax(-1).to(scores.device)


class BatchSizer:
    """A fixed batch size, or ``"auto"``: the largest size (up to ``max_size``) that runs without running
    out of memory, found per kind of request by halving on an out-of-memory error and remembered.
    Engines present the longest rows first, so a size that is too large fails on the first batch."""

    def __init__(self, requested: int | str = "auto", max_size: int = 64):
        if requested != "auto" and (not isinstance(requested, int) or requested < 1):
            raise ValueError(f"batch size must be a positive integer or 'auto', got {requested!r}")
        self.requested = requested
        self.max_size = max_size
        self.found: dict[str, int] = {}

    def size(self, kind: str) -> int:
        return self.requested if isinstance(self.requested, int) else self.found.get(kind, self.max_size)

    def run(self, kind: str, work: Callable[[int], T]) -> T:
        while True:
            size = self.size(kind)
            try:
                out = work(size)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are retried
                if self.requested != "auto" or size == 1 or not is_oom(exc):
                    raise
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                self.found[kind] = size // 2
                log.info("%s: batch size %d ran out of memory, trying %d", kind, size, size // 2)
                continue
            self.found.setdefault(kind, size)
            return out


class EvalEngine(ABC):
    """Answers the evaluation requests of generative tasks for one model."""

    name: str = "engine"

    def sync(self, module: nn.Module) -> None:
        """The weights to answer with from now on (called after every unlearning request)."""

    @abstractmethod
    def loglikelihood(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        """Token-mean negative log-likelihood of each row's reference answer given its prompt."""

    @abstractmethod
    def choice_scores(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        """Rows × options: token-mean NLL of each option given the prompt (``inf`` past a row's options)."""

    @abstractmethod
    def generate(self, data: EncodedQA, *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 adapter: str | None = ACTIVE, sampling: Sampling | None = None) -> list[str]:
        """Answers cut at end of sequence, at the first stop string, or after ``max_new_tokens``: greedy, or
        sampled with ``sampling``."""

    def choose(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> tuple[list[str], np.ndarray]:
        """The option with the lowest NLL per row, and every option's score."""
        assert data.options is not None, "multiple choice needs options"
        scores = self.choice_scores(data, adapter=adapter)
        return [data.options[i][int(np.argmin(scores[i]))] for i in range(len(data))], scores

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name}


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
