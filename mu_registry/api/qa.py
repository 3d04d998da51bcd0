"""Question-answer data for generative (LLM / multimodal LLM) tasks, encoded for a model.

An :class:`EncodedQA` keeps, per example, the prompt's token ids (image placeholders included),
the reference answer's token ids, the raw image (decoded to pixels only per batch, so a large
set never sits in memory as floats), and the columns the protocol needs: which entity (``unit``)
a question concerns and which ``form`` of probe it is (``multimodal`` or ``text``).

:func:`qa_batches` makes training/scoring batches (prompt + answer, right-padded, only answer
tokens labelled); :func:`prompt_batches` makes generation batches (prompts only, left-padded).
Batches never mix examples with and without an image, because a LLaVA-style model takes
``pixel_values`` for the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

IGNORE = -100


@dataclass
class EncodedQA:
    name: str
    prompts: list[list[int]]
    answers: list[list[int]]  # reference answer tokens, end token included
    answer_texts: list[str]
    questions: list[str]
    images: list[Any]  # raw image per row (None for a text-only probe; a tuple: several, in prompt order)
    units: list[str]  # the entity a row is about
    forms: list[str]  # "multimodal" | "text"
    ids: np.ndarray
    #: multiple-choice tasks: each row's option texts (the reference answer is one of them)
    options: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def has_image(self) -> np.ndarray:
        return np.asarray([img is not None for img in self.images], dtype=bool)

    def take(self, positions: np.ndarray | list[int], name: str | None = None) -> EncodedQA:
        pos = [int(p) for p in positions]
        return EncodedQA(name or self.name, [self.prompts[p] for p in pos], [self.answers[p] for p in pos],
                         [self.answer_texts[p] for p in pos], [self.questions[p] for p in pos],
                         [self.images[p] for p in pos], [self.units[p] for p in pos], [self.forms[p] for p in pos],
                         self.ids[pos] if len(pos) else self.ids[:0],
                         [self.options[p] for p in pos] if self.options is not None else None)

    def where(self, keep: np.ndarray, name: str | None = None) -> EncodedQA:
        return self.take(np.flatnonzero(keep), name)

    def with_answers(self, answers: list[list[int]], texts: list[str]) -> EncodedQA:
        """The same prompts with other target answers (a refusal for IdK, say)."""
        if len(answers) != len(self):
            raise ValueError(f"{len(answers)} answers for {len(self)} prompts")
        return replace(self, answers=answers, answer_texts=texts)


@dataclass
class QABatch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor  # IGNORE except on answer tokens (all IGNORE in a generation batch)
    pixel_values: torch.Tensor | None
    positions: np.ndarray  # rows of the EncodedQA

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def to(self, device: torch.device) -> QABatch:
        if device.type == "cpu":
            return self
        pix = self.pixel_values.to(device) if self.pixel_values is not None else None
        return QABatch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device), pix,
                       self.positions)


PixelFn = Callable[[list[Any]], torch.Tensor]


def group_rows(data: EncodedQA, batch_size: int, order: np.ndarray) -> list[np.ndarray]:
    """Chunks of ``order`` of at most ``batch_size`` rows, each all-image or all-text."""
    has = data.has_image[order] if len(order) else np.zeros(0, bool)
    out = []
    for flag in (True, False):
        rows = order[has == flag]
        out += [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    return out


def flat_images(images: list[Any]) -> list[Any]:
    """Every image of ``images`` in order, a row's tuple of images (a one-shot example's images, then the row's
    own) spread out: the images a batch's image placeholders stand for, in order."""
    return [img for item in images for img in (item if isinstance(item, tuple) else (item,))]


def _pix(data: EncodedQA, rows: np.ndarray, pixels: PixelFn) -> torch.Tensor | None:
    if data.images[int(rows[0])] is None:
        return None
    return pixels(flat_images([data.images[int(r)] for r in rows]))


def collate_qa(data: EncodedQA, rows: np.ndarray, *, pad_id: int, pixels: PixelFn) -> QABatch:
    seqs = [data.prompts[r] + data.answers[r] for r in rows]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        p, a = data.prompts[r], data.answers[r]
        ids[i, :len(p) + len(a)] = torch.tensor(p + a)
        labels[i, len(p):len(p) + len(a)] = torch.tensor(a)
        mask[i, :len(p) + len(a)] = 1
    return QABatch(ids, mask, labels, _pix(data, rows, pixels), rows)


def collate_prompts(data: EncodedQA, rows: np.ndarray, *, pad_id: int, pixels: PixelFn) -> QABatch:
    width = max(len(data.prompts[r]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        p = data.prompts[r]
        ids[i, width - len(p):] = torch.tensor(p)  # left padding: every prompt ends where generation starts
        mask[i, width - len(p):] = 1
    return QABatch(ids, mask, torch.full_like(ids, IGNORE), _pix(data, rows, pixels), rows)


def qa_batches(data: EncodedQA, batch_size: int, *, pad_id: int, pixels: PixelFn, shuffle: bool = False,
               generator: torch.Generator | None = None, device: torch.device | None = None) -> Iterator[QABatch]:
    """Prompt+answer batches. Unshuffled batches are sorted by length (less padding)."""
    n = len(data)
    if shuffle:
        order = torch.randperm(n, generator=generator).numpy()
    else:
        order = np.argsort([len(p) + len(a) for p, a in zip(data.prompts, data.answers)], kind="stable")
    chunks = group_rows(data, batch_size, order)
    if shuffle and chunks:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    for rows in chunks:
        batch = collate_qa(data, rows, pad_id=pad_id, pixels=pixels)
        yield batch.to(device) if device is not None else batch


def prompt_batches(data: EncodedQA, batch_size: int, *, pad_id: int, pixels: PixelFn,
                   device: torch.device | None = None) -> Iterator[QABatch]:
    order = np.argsort([len(p) for p in data.prompts], kind="stable")
    for rows in group_rows(data, batch_size, order):
        batch = collate_prompts(data, rows, pad_id=pad_id, pixels=pixels)
        yield batch.to(device) if device is not None else batch
