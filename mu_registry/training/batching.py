"""Batches: a classification batch, and how many batches one pass over a generative split takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from mu_registry.api.qa import EncodedQA


@dataclass
class Batch:
    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor
    positions: torch.Tensor  # row positions in the encoded split

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def num_batches(rows: int, batch_size: int) -> int:
    """Batches in one pass over ``rows`` rows (the last one may be short, as a DataLoader without drop_last);
    0 for no rows."""
    return -(-int(rows) // batch_size)


def steps_per_epoch(data: EncodedQA, batch_size: int) -> int:
    """Batches in one pass over ``data`` (image and text-only rows are batched apart)."""
    return sum(num_batches(n, batch_size) for n in (data.has_image.sum(), (~data.has_image).sum()))
