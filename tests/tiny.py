"""A tiny classification setup for method tests: 4 Gaussian blobs, an MLP trained to fit them."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mu_registry.api.data import Split
from mu_registry.api.method import UnlearnContext
from mu_registry.api.model import EncodedSplit, TaskSpec
from mu_registry.config.task import TrainConfig
from mu_registry_plugins.models.mlp import MLPClassifier

SPEC = TaskSpec(name="blobs", modality="tabular", num_classes=4, input_columns=["x"], label_column="label",
                input_shapes={"x": (8,)})


def blobs(n: int = 400, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    centers = rng.normal(0, 2.0, (4, 8))
    x = (centers[labels] + rng.normal(0, 1.5, (n, 8))).astype(np.float32)
    return Split("train", {"x": x, "label": labels}, np.arange(n))


def setup(seed: int = 0):
    """(adapter, trained original, forget, retain): forget is 40 random training examples."""
    adapter = MLPClassifier(hidden=[64])
    train = blobs(seed=seed)
    forget_ids = np.random.default_rng(seed).choice(len(train), 40, replace=False)
    forget = adapter.encode(train.select_ids(forget_ids, "forget"), SPEC)
    retain = adapter.encode(train.drop_ids(forget_ids, "retain"), SPEC)
    original = adapter.build(SPEC, seed)
    adapter.fit(original, adapter.encode(train, SPEC), TrainConfig(epochs=40, lr=3e-3, batch_size=32), seed=seed,
                device=torch.device("cpu"))
    return adapter, original, forget, retain


def context(adapter, original, forget: EncodedSplit, retain: EncodedSplit, seed: int = 0) -> UnlearnContext:
    import copy

    model = copy.deepcopy(original)
    for p in model.parameters():
        p.requires_grad_(True)
    for p in original.parameters():
        p.requires_grad_(False)
    return UnlearnContext(model=model, original=original, forget=forget, retain=retain, adapter=adapter,
                          num_classes=4, request_index=0, seed=seed, device=torch.device("cpu"))


@torch.no_grad()
def loss_and_acc(adapter, model, data: EncodedSplit) -> tuple[float, float]:
    logits = adapter.forward(model, data.inputs)
    return float(F.cross_entropy(logits, data.labels)), float((logits.argmax(1) == data.labels).float().mean())
