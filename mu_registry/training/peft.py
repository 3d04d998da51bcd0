"""PEFT helpers that do not need peft installed."""

from __future__ import annotations

from torch import nn


def is_peft(model: nn.Module) -> bool:
    """Whether ``model`` is a peft ``PeftModel`` (False when peft is not installed)."""
    try:
        import peft  # optional dependency ([hf] extra)
    except ImportError:
        return False
    return isinstance(model, peft.PeftModel)
