"""Data-parallel evaluation across processes launched by an existing launcher (``accelerate launch``,
``torchrun``): every process runs the same run; evaluation rows are split across them and gathered, the
model's weights are made identical from rank 0 before each evaluation, and only rank 0 writes files.

    accelerate launch --num_processes 4 -m mu_registry run --tasks mlubench ...
    torchrun --nproc_per_node 4 -m mu_registry run --tasks mlubench ...

Training is not split (each process trains the same model from the same seed; rank 0's weights are the
ones evaluated and saved). The process group is NCCL on GPUs, gloo on CPU.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from mu_registry.evaluation.answer_cache import tensor_versions
from mu_registry.util.rank import active, is_main, rank, world_size

T = TypeVar("T")

__all__ = ["active", "from_main", "gather_rows", "init_from_environment", "is_main", "rank", "shard", "world_size",
           "WeightSync"]


def init_from_environment() -> torch.device | None:
    """Join the process group a launcher described in the environment (WORLD_SIZE > 1); returns this
    process's device (its GPU by LOCAL_RANK, or the CPU), or None when not launched that way."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return None
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def shard(n: int) -> np.ndarray:
    """The rows this process evaluates: every world_size-th, from its rank."""
    return np.arange(rank(), n, world_size())


def gather_rows(n: int, mine: list[Any]) -> list[Any]:
    """Every process's ``mine`` (values for its ``shard(n)``) put back in row order, on every process."""
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, mine)
    out: list[Any] = [None] * n
    for r, values in enumerate(parts):
        for i, v in zip(range(r, n, world_size()), values):
            out[i] = v
    return out


class WeightSync:
    """Broadcasts from rank 0 the tensors that changed since the last call (``tensor_versions``), so all
    processes evaluate exactly rank 0's weights."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}

    def __call__(self, module: nn.Module) -> int:
        if not active():
            return 0
        state = module.state_dict(keep_vars=True)
        changed = [k for k, sig in tensor_versions(module).items() if self._seen.get(k) != sig]
        flags: list[Any] = [None] * world_size()
        dist.all_gather_object(flags, sorted(changed))
        names = sorted(set().union(*flags))
        with torch.no_grad():
            for k in names:
                dist.broadcast(state[k].data, src=0)
        self._seen = tensor_versions(module)
        return len(names)


def from_main(obj: T) -> T:
    """Rank 0's ``obj`` on every process (so a decision such as a cache hit is the same everywhere)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
