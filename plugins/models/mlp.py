"""A multi-layer perceptron over flattened inputs (any fixed-size numeric input: images, feature
vectors, or tabular rows of scalar columns, which are concatenated)."""

from __future__ import annotations

import math

import torch
from torch import nn

from mu_registry import Model, TaskSpec


class MLPClassifier(Model):
    """Flatten, then ``hidden`` ReLU layers (default one of 256 units)."""

    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        width = sum(math.prod(s) for s in spec.input_shapes.values())
        hidden = self.args.get("hidden", [256])
        layers: list[nn.Module] = [nn.Flatten()]
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, spec.num_classes))
        return nn.Sequential(*layers)

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        # (batch, ...) -> (batch, features); a scalar column (tabular data) is (batch,) -> (batch, 1)
        flat = [v.reshape(v.shape[0], -1).float() for v in inputs.values()]
        return module(torch.cat(flat, dim=1))
