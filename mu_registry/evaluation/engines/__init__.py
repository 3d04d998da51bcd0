"""Evaluation engines: one interface (``EvalEngine``) for class scores, multiple-choice log-likelihoods
and generation; a transformers engine everywhere, a vLLM engine where a GPU and vLLM are present."""

from __future__ import annotations

import functools
import importlib
from typing import Any

import torch
from torch import nn

from mu_registry.util.errors import MuError
from mu_registry.evaluation.engines.base import ACTIVE, BatchSizer, EvalEngine, is_oom
from mu_registry.evaluation.engines.hf_engine import TransformersEngine

ENGINES = ("auto", "transformers", "vllm")

__all__ = ["ACTIVE", "BatchSizer", "ENGINES", "EvalEngine", "TransformersEngine", "is_oom", "make_engine",
           "vllm_available", "vllm_problem"]


#: the vLLM releases the vLLM engine was checked against (the ``[vllm]`` extra pins the same)
VLLM_RELEASES = ">=0.32,<0.33"
#: vLLM's own pins that a working install must meet (read from its metadata: a ``pip install --no-deps`` or
#: a later upgrade of transformers can leave them unmet, and vLLM then fails far into start-up)
VLLM_PINNED = ("torch", "torchvision", "transformers")


@functools.lru_cache(maxsize=1)
def vllm_problem() -> str | None:
    """Why the vLLM engine cannot run here (``None``: it can): no CUDA GPU, ``vllm.LLM`` does not import, a
    vLLM release outside ``VLLM_RELEASES``, or a package vLLM pins at a version outside its pin."""
    if not torch.cuda.is_available():
        return "needs a CUDA GPU"
    return vllm_install_problem()


def vllm_install_problem() -> str | None:
    """The install checks of ``vllm_problem``, without the GPU (the tests run them on CPU)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    try:
        importlib.import_module("vllm").LLM  # noqa: B018 - the top-level package alone loads almost nothing
        importlib.import_module("vllm.lora.request").LoRARequest  # noqa: B018
    except Exception as exc:  # noqa: BLE001 - an unusable install is the same as none
        return f"vllm does not import ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    try:
        version = metadata.version("vllm")
    except metadata.PackageNotFoundError:
        return "vllm imports but is not an installed distribution (no version to check)"
    if not SpecifierSet(VLLM_RELEASES).contains(version, prereleases=True):
        return f"vllm {version} is installed, the engine was checked against vllm{VLLM_RELEASES}"
    for line in metadata.requires("vllm") or []:
        req = Requirement(line)
        if req.name not in VLLM_PINNED or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            return f"vllm {version} needs {req} ({req.name} is not installed)"
        if not req.specifier.contains(have, prereleases=True):
            return f"vllm {version} needs {req}, {req.name} {have} is installed"
    return None


def vllm_available() -> bool:
    return vllm_problem() is None


def make_engine(kind: str, adapter: Any, module: nn.Module, *, device: torch.device,
                batch_size: int | str = "auto", engine_args: dict[str, Any] | None = None) -> EvalEngine:
    """``transformers``, ``vllm``, or ``auto`` (vLLM when a GPU, vLLM and a model that can be served by it
    are present, else transformers). ``engine_args`` are the vLLM engine's (so ``auto`` can fall back to
    transformers with the same task file); the transformers engine takes ``batch_size`` only."""
    if kind not in ENGINES:
        raise MuError(f"engine {kind!r}: choose one of {', '.join(ENGINES)}")
    servable = hasattr(adapter, "vllm_source")
    if kind == "vllm" or (kind == "auto" and vllm_available() and servable):
        problem = vllm_problem()
        if problem is not None:
            raise MuError(f"engine vllm: {problem} (`pip install 'mu-registry[vllm]'` on a CUDA machine)"
                          if problem != "needs a CUDA GPU" else
                          "engine vllm: needs a CUDA GPU and `pip install 'mu-registry[vllm]'`")
        if not servable:
            raise MuError(f"engine vllm: model plugin {type(adapter).__name__} cannot be served by vLLM "
                          "(it has no vllm_source); use engine transformers")
        from mu_registry.evaluation.engines.vllm_engine import VLLMEngine  # vLLM is optional and slow to import

        return VLLMEngine(adapter, module, device=device, **(engine_args or {}))
    return TransformersEngine(adapter, module, device=device, batch_size=batch_size)
