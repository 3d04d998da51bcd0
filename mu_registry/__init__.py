"""mu-registry: an evaluation harness for machine unlearning.

Public API for plugin authors::

    from mu_registry import hookimpl, Method, Model, UnlearnContext, MetricContext, Split
"""

from __future__ import annotations

__version__ = "0.1.0"

from .data import Request, Split, TaskData
from .errors import ConfigError, MuError, NotApplicableError
from .hookspecs import hookimpl
from .method import Batch, Method, UnlearnContext
from .metric import MetricContext, SetOutputs, per_set
from .model import EncodedSplit, Model, TaskSpec

__all__ = [
    "Batch", "ConfigError", "EncodedSplit", "Method", "MetricContext", "Model", "MuError", "NotApplicableError",
    "Request", "SetOutputs", "Split", "TaskData", "TaskSpec", "UnlearnContext", "__version__", "hookimpl", "per_set",
]
