"""Evaluation engines: one interface (``EvalEngine``) for class scores, multiple-choice log-likelihoods
and generation; a transformers engine everywhere, a vLLM engine where a GPU and vLLM are present."""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import nn

from ..errors import MuError
from .base import ACTIVE, BatchSizer, EvalEngine, is_oom
from .hf_engine import TransformersEngine

ENGINES = ("auto", "transformers", "vllm")

__all__ = ["ACTIVE", "BatchSizer", "ENGINES", "EvalEngine", "TransformersEngine", "is_oom", "make_engine",
           "vllm_available"]


def vllm_available() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        importlib.import_module("vllm")
    except Exception:  # noqa: BLE001 - an unusable install is the same as none
        return False
    return True


def make_engine(kind: str, adapter: Any, module: nn.Module, *, device: torch.device,
                batch_size: int | str = "auto", engine_args: dict[str, Any] | None = None) -> EvalEngine:
    """``transformers``, ``vllm``, or ``auto`` (vLLM when a GPU, vLLM and a model that can be served by it
    are present, else transformers). ``engine_args`` are the vLLM engine's (so ``auto`` can fall back to
    transformers with the same task file); the transformers engine takes ``batch_size`` only."""
    if kind not in ENGINES:
        raise MuError(f"engine {kind!r}: choose one of {', '.join(ENGINES)}")
    servable = hasattr(adapter, "vllm_source")
    if kind == "vllm" or (kind == "auto" and vllm_available() and servable):
        if not vllm_available():
            raise MuError("engine vllm: needs a CUDA GPU and `pip install 'mu-registry[vllm]'`")
        if not servable:
            raise MuError(f"engine vllm: model plugin {type(adapter).__name__} cannot be served by vLLM "
                          "(it has no vllm_source); use engine transformers")
        from .vllm_engine import VLLMEngine

        return VLLMEngine(adapter, module, device=device, **(engine_args or {}))
    return TransformersEngine(adapter, module, device=device, batch_size=batch_size)
