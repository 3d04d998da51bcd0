"""The plugin contract: small hooks, each handed a ``register`` callback.

A plugin is any module (or object) with functions decorated by
``mu_registry.hookimpl`` and exposed through the ``mu_registry`` entry-point
group. Each hook receives one argument, ``register``; call it once per thing
the plugin provides::

    from mu_registry import hookimpl

    @hookimpl
    def mu_register_methods(register):
        register("my-method", MyMethod)

Names may be namespaced as ``"package/name"`` to avoid clashes.

Instead of the object, ``register`` also takes its import path, ``"package.module:Attribute"``: nothing is
imported until a run first uses it (how the built-in plugins keep ``mu-eval list`` fast; see
:mod:`mu_registry.registry.lazy`). ``list`` then reads the description from the docstring without importing it,
or from ``register(name, target, description="one line")``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "mu_registry"
ENTRY_POINT_GROUP = "mu_registry"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def mu_register_methods(register: Callable[[str, type], None]) -> None:
    """Register unlearning methods: ``register(name, MethodSubclass)``."""


@hookspec
def mu_register_models(register: Callable[[str, type], None]) -> None:
    """Register model families: ``register(name, ModelSubclass)``."""


@hookspec
def mu_register_tasks(register: Callable[[Any], None]) -> None:
    """Register task definitions: ``register(path)`` for a YAML file or a folder of them."""


@hookspec
def mu_register_metrics(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register metrics: ``register(name, function)``; see :mod:`mu_registry.api.metric`."""


@hookspec
def mu_register_datasets(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register named local dataset builders: ``register(name, builder)``.

    A builder is a callable ``builder(**builder_args) -> dict[str, Split]``
    that a task YAML names under ``dataset.builder``; it is how offline or
    generated data sources are plugged in (see :mod:`mu_registry.api.data`).
    """


@hookspec
def mu_register_judges(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register answer judges for generative tasks: ``register(name, factory)``; ``factory(**args)``
    returns a :class:`mu_registry.api.judge.Judge` (see there)."""


@hookspec
def mu_register_routers(register: Callable[[str, type], None]) -> None:
    """Register LUMoE routers: ``register(name, RouterSubclass)`` (see :mod:`mu_registry.api.router`)."""


@hookspec
def mu_register_protocols(register: Callable[[str, type], None]) -> None:
    """Register protocols: ``register(task_type, ProtocolSubclass)``; the protocol runs every task of that
    ``task_type`` (see :mod:`mu_registry.protocols.base`)."""
