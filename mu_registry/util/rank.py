"""This process's rank in a data-parallel run, without importing torch.

A process group exists only once ``torch.distributed`` has been imported and initialised (by
:mod:`mu_registry.evaluation.distributed`), so a process that never imported it is rank 0 of 1.
"""

from __future__ import annotations

import sys


def active() -> bool:
    """Whether a process group of more than one process is running."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return sys.modules["torch.distributed"].get_rank() if active() else 0


def world_size() -> int:
    return sys.modules["torch.distributed"].get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0: the process that writes files."""
    return rank() == 0
