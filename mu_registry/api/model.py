"""The ``Model`` base class: an adapter for one model family.

A model plugin knows how to build a fresh network for a task, how to turn a
:class:`~mu_registry.api.data.Split` into tensors, how to call the network, and how
to train it (used for the *original* model on all training data and the
*retrain* reference on the retain data). The runner caches both under a hash of
everything that produced them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mu_registry.api.data import Split
from mu_registry.config.task import TrainConfig
from mu_registry.training.loop import fit_classifier
from mu_registry.util.atomic import atomic_torch_save


@dataclass
class TaskSpec:
    """What a model needs to know about a task to build a network for it."""

    name: str
    modality: str
    num_classes: int
    input_columns: list[str]
    label_column: str
    input_shapes: dict[str, tuple[int, ...]]
    #: generative tasks: the column naming the entity a row is about, and the probe's form column
    unit_column: str | None = None
    form_column: str | None = None
    #: multiple-choice generative tasks: the column holding each row's list of option texts
    options_column: str | None = None
    #: multiple-choice generative tasks: "letter" (MLLMU-Bench's prompt, a generated option letter) or
    #: "likelihood" (the option texts scored after the question)
    choice_scoring: str = "letter"


@dataclass
class EncodedSplit:
    """A split turned into tensors, ready for batching."""

    name: str
    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class Model(ABC):
    """Base class for model plugins (classification by default)."""

    task_types: ClassVar[frozenset[str]] = frozenset({"classification"})
    #: Modalities this family can take; empty means any.
    modalities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **args: Any):
        self.args = args

    @abstractmethod
    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        """A freshly initialised network for ``spec`` (seeded)."""

    def encode(self, split: Split, spec: TaskSpec) -> EncodedSplit:
        """Tensors for ``split``; the default stacks numeric input columns as float32."""
        inputs = {}
        for col in spec.input_columns:
            arr = np.asarray(split.columns[col])
            dtype = torch.float32 if arr.dtype.kind == "f" else torch.long
            inputs[col] = torch.as_tensor(arr, dtype=dtype)
        labels = torch.as_tensor(np.asarray(split.columns[spec.label_column]), dtype=torch.long)
        return EncodedSplit(split.name, inputs, labels, split.ids)

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits of ``module`` on a batch of ``inputs``."""
        return module(*inputs.values())

    def fit(self, module: nn.Module, data: EncodedSplit, train: TrainConfig, *, seed: int,
            device: torch.device, desc: str = "train") -> nn.Module:
        """Supervised training with cross-entropy (original and retrain models)."""
        return fit_classifier(self, module, data, train, seed=seed, device=device, desc=desc)

    def save(self, module: nn.Module, path: Path) -> None:
        atomic_torch_save(module.state_dict(), path)

    def load(self, spec: TaskSpec, path: Path, seed: int) -> nn.Module:
        module = self.build(spec, seed)
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return module
