"""Class scores: batched evaluation of a classifier on many sets in one pass per model state."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mu_registry.api.metric import SetOutputs
from mu_registry.api.model import EncodedSplit, Model
from mu_registry.training.loop import iterate_batches
from mu_registry.evaluation.engines.base import BatchSizer


@torch.inference_mode()
def classify(adapter: Model, module: nn.Module, data: EncodedSplit, *, batch_size: int,
             device: torch.device) -> SetOutputs:
    was_training = module.training
    module.eval()
    chunks = []
    for batch in iterate_batches(data, batch_size, shuffle=False, device=device):
        chunks.append(adapter.forward(module, batch.inputs).float().cpu())
    if was_training:
        module.train()
    logits = torch.cat(chunks).numpy() if chunks else np.zeros((0, 0), dtype=np.float32)
    return SetOutputs(logits=logits, labels=data.labels.numpy())


def evaluate_sets(adapter: Model, module: nn.Module, sets: dict[str, EncodedSplit], *, batch_size: int | str,
                  device: torch.device) -> dict[str, SetOutputs]:
    """Class scores on every set; ``batch_size="auto"`` finds the largest size up to 512 that fits."""
    sizer = BatchSizer(batch_size, max_size=512)
    return {name: sizer.run("class_scores",
                            lambda bs, data=data: classify(adapter, module, data, batch_size=bs, device=device))
            for name, data in sets.items()}
