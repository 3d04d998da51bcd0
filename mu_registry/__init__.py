"""mu-registry: an evaluation harness for machine unlearning.

This module is the plugin contract: everything a plugin (built-in or third-party) imports comes from
here, and built-in plugins import nothing else from ``mu_registry``::

    from mu_registry import hookimpl, Method, UnlearnContext, make_optimizer

Names are imported on first use (PEP 562), so that ``import mu_registry`` (the CLI, plugin registration)
does not import torch: ``mu-eval --help`` and ``mu-eval list`` answer at once.

Kinds of plugin and what each uses (the README's "Plugin contract" documents every hook and context):

- every plugin: ``hookimpl``; errors ``MuError``, ``ConfigError``, ``NotApplicableError``
- classification methods: ``Method``, ``UnlearnContext``, ``Batch``, ``make_optimizer``, ``num_batches``,
  ``check_lr_schedule``, ``check_trainer_options``, ``unlearning_optimizer``, ``unlearning_schedule``
- generative methods: ``GenerativeMethod`` (formerly ``LLMMethod``, still importable), ``QAContext``,
  ``RequestSets``, ``losses``
  (the token-level losses: ``losses.npo``, ``losses.answer_nll``...), ``is_peft``, ``REFUSALS``
- classification models: ``Model``, ``TaskSpec``, ``EncodedSplit``; generative models: ``GenerativeModel``,
  ``EncodedQA``, ``QABatch``, ``collate_qa``, ``prompt_batches``, ``qa_batches``
- metrics: ``MetricContext``, ``SetOutputs``, ``per_set``
- judges: ``Judge``, ``Grade``, ``ASPECTS`` and the shared text tools ``tokens``, ``rouge_l``,
  ``contains_reference``, ``is_refusal``, ``REFUSAL_PATTERNS``; ``refuse_secrets`` for judges that take keys
- routers: ``Router``; ``get_registry`` (a method is given the run's registry as ``self.registry``)
- dataset builders: ``Split``, ``Request``, ``TaskData``, ``cache_dir``, ``source_dir``, ``expand_path``,
  ``atomic_write``, ``atomic_write_json``, ``atomic_write_text``, ``atomic_torch_save``, ``progress``,
  ``hub_problem`` (a builder's or model's ``preflight``: a Hub id neither cached nor reachable)
- protocols: ``Protocol``, ``MethodRun``, ``RunSetup``, ``RunRecord``, ``request_loop``
"""

from __future__ import annotations

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mu_registry.api.hookspecs import hookimpl
from mu_registry.util.errors import ConfigError, MuError, NotApplicableError

# name -> module it is imported from on first use
_LAZY = {
    # data
    "Request": "api.data", "Split": "api.data", "TaskData": "api.data",
    # classification methods
    "Method": "api.method", "UnlearnContext": "api.method", "Batch": "training.batching",
    "num_batches": "training.batching",
    "make_optimizer": "training.loop", "check_lr_schedule": "training.loop", "check_trainer_options": "training.loop",
    "unlearning_optimizer": "training.loop", "unlearning_schedule": "training.loop",
    # generative methods
    "GenerativeMethod": "api.generative_method", "LLMMethod": "api.generative_method",
    "QAContext": "api.generative_method", "RequestSets": "api.generative_method", "REFUSALS": "api.generative_method",
    "is_peft": "training.peft", "losses": None,
    # models
    "Model": "api.model", "TaskSpec": "api.model", "EncodedSplit": "api.model",
    "GenerativeModel": "api.generative_model",
    "EncodedQA": "api.qa", "QABatch": "api.qa", "collate_qa": "api.qa", "prompt_batches": "api.qa",
    "qa_batches": "api.qa",
    # metrics
    "MetricContext": "api.metric", "SetOutputs": "api.metric", "per_set": "api.metric",
    # judges
    "Judge": "api.judge", "Grade": "api.judge", "ASPECTS": "api.judge", "tokens": "api.judge",
    "rouge_l": "api.judge", "contains_reference": "api.judge", "is_refusal": "api.judge",
    "REFUSAL_PATTERNS": "api.judge", "refuse_secrets": "config.checks",
    # routers; the registry, for a plugin that looks up other plugins by name outside a run
    "Router": "api.router", "get_registry": "registry.manager",
    # dataset builders
    "cache_dir": "util.paths", "expand_path": "util.paths", "source_dir": "data.sources",
    "atomic_write": "util.atomic", "atomic_write_json": "util.atomic", "atomic_write_text": "util.atomic",
    "atomic_torch_save": "util.atomic", "progress": "util.progress", "hub_problem": "data.preflight",
    # protocols
    "Protocol": "protocols.base", "MethodRun": "protocols.base", "RunSetup": "protocols.base",
    "request_loop": "protocols.base", "RunRecord": "protocols.record",
}

if TYPE_CHECKING:
    from mu_registry.api.data import Request, Split, TaskData
    from mu_registry.api.generative_method import REFUSALS, GenerativeMethod, LLMMethod, QAContext, RequestSets
    from mu_registry.api.generative_model import GenerativeModel
    from mu_registry.api.judge import (ASPECTS, REFUSAL_PATTERNS, Grade, Judge, contains_reference, is_refusal,
                                       rouge_l, tokens)
    from mu_registry.api.method import Method, UnlearnContext
    from mu_registry.api.metric import MetricContext, SetOutputs, per_set
    from mu_registry.api.model import EncodedSplit, Model, TaskSpec
    from mu_registry.api.qa import EncodedQA, QABatch, collate_qa, prompt_batches, qa_batches
    from mu_registry.api.router import Router
    from mu_registry.registry.manager import get_registry
    from mu_registry.config.checks import refuse_secrets
    from mu_registry.protocols.base import MethodRun, Protocol, RunSetup, request_loop
    from mu_registry.protocols.record import RunRecord
    from mu_registry.training import losses
    from mu_registry.training.batching import Batch, num_batches
    from mu_registry.training.loop import (check_lr_schedule, check_trainer_options, make_optimizer,
                                           unlearning_optimizer, unlearning_schedule)
    from mu_registry.training.peft import is_peft
    from mu_registry.util.atomic import atomic_torch_save, atomic_write, atomic_write_json, atomic_write_text
    from mu_registry.data.preflight import hub_problem
    from mu_registry.data.sources import source_dir
    from mu_registry.util.paths import cache_dir, expand_path
    from mu_registry.util.progress import progress


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mu_registry' has no attribute '{name}'")
    if name == "losses":
        value: Any = import_module("mu_registry.training.losses")
    else:
        value = getattr(import_module(f"mu_registry.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ASPECTS", "Batch", "ConfigError", "EncodedQA", "EncodedSplit", "GenerativeMethod", "GenerativeModel", "Grade",
    "Judge", "LLMMethod", "Method", "MethodRun", "MetricContext", "Model", "MuError", "NotApplicableError",
    "Protocol", "QABatch", "QAContext", "REFUSALS", "REFUSAL_PATTERNS", "Request", "RequestSets", "Router",
    "RunRecord", "RunSetup", "SetOutputs", "Split", "TaskData", "TaskSpec", "UnlearnContext", "__version__",
    "atomic_torch_save", "atomic_write", "atomic_write_json", "atomic_write_text", "cache_dir", "check_lr_schedule",
    "check_trainer_options", "collate_qa", "contains_reference", "expand_path", "get_registry", "hookimpl",
    "hub_problem", "is_peft", "is_refusal", "losses", "make_optimizer", "num_batches", "per_set", "progress",
    "prompt_batches", "qa_batches", "refuse_secrets", "request_loop", "rouge_l", "source_dir", "tokens",
    "unlearning_optimizer", "unlearning_schedule"
]
assert set(__all__) == {*_LAZY, "ConfigError", "MuError", "NotApplicableError", "__version__", "hookimpl"}
