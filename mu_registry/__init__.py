"""mu-registry: an evaluation harness for machine unlearning.

Public API for plugin authors::

    from mu_registry import hookimpl, Method, Model, UnlearnContext, MetricContext, Split
"""

from __future__ import annotations

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, MuError, NotApplicableError
from .hookspecs import hookimpl

# Imported on first use (PEP 562), so that `import mu_registry` (the CLI, plugin registration) does not
# import torch: `mu-eval --help` and `mu-eval list` answer at once.
_LAZY = {
    "Request": "data", "Split": "data", "TaskData": "data",
    "Batch": "method", "Method": "method", "UnlearnContext": "method",
    "MetricContext": "metric", "SetOutputs": "metric", "per_set": "metric",
    "EncodedSplit": "model", "Model": "model", "TaskSpec": "model",
}

if TYPE_CHECKING:
    from .data import Request, Split, TaskData
    from .method import Batch, Method, UnlearnContext
    from .metric import MetricContext, SetOutputs, per_set
    from .model import EncodedSplit, Model, TaskSpec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mu_registry' has no attribute '{name}'")


__all__ = [
    "Batch", "ConfigError", "EncodedSplit", "Method", "MetricContext", "Model", "MuError", "NotApplicableError",
    "Request", "SetOutputs", "Split", "TaskData", "TaskSpec", "UnlearnContext", "__version__", "hookimpl", "per_set",
]
