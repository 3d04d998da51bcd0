"""Routers for LUMoE: which LoRA expert (if any) answers a query.

A router may be told the whole stream before the first request (``plan``: every request's expert name,
forget and retain sets), is told about each new expert once it is trained (``add_expert``), and then
routes queries: an expert's name, or ``None`` for the base model. It never routes to an expert that has not
been added. Routers are plugins (``mu_register_routers``); built in (``mu_registry_plugins.routers``):

* ``entity`` (LUMoE's default, as released): the query's entity matched by fuzzy string similarity
  against every request's entity lists, all of them from the start (``mu_registry_plugins.routers.entity``);
* ``oracle``: routes by the entity label of the query (an upper bound: the labels are not known
  to a deployed model);
* ``trained``: a logistic-regression classifier over the frozen base model's mean-pooled hidden
  state of the prompt (image tokens included), trained on every forget set so far (one class per
  expert) against every retain set so far (the base class).

A VLM- or API-based router is a plugin with the same three methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mu_registry.api.qa import EncodedQA

Features = Callable[[EncodedQA], np.ndarray]


class Router(ABC):
    def __init__(self, **args: Any):
        self.args = args

    def plan(self, requests: Sequence[tuple[str, EncodedQA, EncodedQA]]) -> None:
        """Every request of the stream, before the first is trained: (expert name, forget set, retain set)
        in order. A router that learns only from trained experts ignores it (the default)."""

    @abstractmethod
    def add_expert(self, name: str, forget: EncodedQA, retain: EncodedQA, features: Features) -> None: ...

    @abstractmethod
    def route(self, data: EncodedQA, features: Features) -> list[str | None]: ...

    @abstractmethod
    def state(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None: ...


__all__ = ["Features", "Router"]
