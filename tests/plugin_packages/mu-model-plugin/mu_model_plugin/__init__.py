"""A model plugin for the cache tests: a one-hidden-layer MLP whose width is a module constant."""

import math

import torch
from torch import nn

from mu_registry import Model, TaskSpec, hookimpl

WIDTH = 16


class PlugMLP(Model):
    """Flatten, one ReLU layer of WIDTH units."""

    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        width = sum(math.prod(s) for s in spec.input_shapes.values())
        return nn.Sequential(nn.Flatten(), nn.Linear(width, WIDTH), nn.ReLU(), nn.Linear(WIDTH, spec.num_classes))

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return module(torch.cat([v.reshape(v.shape[0], -1).float() for v in inputs.values()], dim=1))


@hookimpl
def mu_register_models(register):
    register("modelplug/mlp", PlugMLP)
