"""The metric contract.

A metric is a function ``metric(ctx: MetricContext) -> float | dict[str, float]``
registered with ``mu_register_metrics``. It sees the evaluated model's outputs
on every evaluation set of the current request, and the same for the
``original`` model (before unlearning) and the ``retrain`` reference (trained
without the forget data), and ``random_init``, an untrained model of the same
family. Per-set metrics return ``{set_name: value}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SetOutputs:
    """A model's outputs on one evaluation set."""

    logits: np.ndarray  # (n, num_classes) float32
    labels: np.ndarray  # (n,) int64

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    @property
    def probs(self) -> np.ndarray:
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @property
    def losses(self) -> np.ndarray:
        """Per-example cross-entropy."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        logsumexp = np.log(np.exp(z).sum(axis=1))
        return logsumexp - z[np.arange(len(self.labels)), self.labels]

    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean()) if len(self.labels) else float("nan")


@dataclass
class MetricContext:
    """What a metric sees for one model state (one request of one method)."""

    outputs: dict[str, SetOutputs]
    original: dict[str, SetOutputs] | None
    retrain: dict[str, SetOutputs] | None
    num_classes: int
    request_index: int
    #: a randomly initialised, untrained model of the same family (ZRF's incompetent teacher)
    random_init: dict[str, SetOutputs] | None = None
    #: the model being scored: a method's name, or "original" / "retrain" for the references
    method: str | None = None
    #: the task's resolved configuration (``task``, ``model.args`` ...), for metrics whose constants
    #: depend on the dataset or backbone (MU-Bench's overall score)
    task: dict[str, Any] | None = None


MetricFn = Callable[[MetricContext], "float | dict[str, float]"]


def per_set(fn: Callable[[SetOutputs], float]) -> MetricFn:
    """Lift a function of one set's outputs into a metric over every set."""

    def metric(ctx: MetricContext) -> dict[str, float]:
        return {name: fn(out) for name, out in ctx.outputs.items()}

    metric.__name__ = getattr(fn, "__name__", "metric")
    metric.__doc__ = fn.__doc__
    return metric
