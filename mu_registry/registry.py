"""Discovers plugins through pluggy and the ``mu_registry`` entry-point group.

Built-in plugins are loaded exactly like third-party ones. Loading is guarded:
a plugin that fails to import or to register yields one warning line naming it
and its distribution, and everything else keeps working.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import DuplicateNameError, MuError, UnknownNameError
from .lazy import Summary, is_lazy_target, load_target, static_summary, summary_of

log = logging.getLogger("mu_registry")

KINDS = ("methods", "models", "metrics", "datasets", "judges", "routers", "tasks")
_SINGULAR = {"methods": "method", "models": "model", "metrics": "metric", "datasets": "dataset builder",
            "judges": "judge", "routers": "router", "tasks": "task path"}


@dataclass
class PluginInfo:
    """What one plugin is and what it registered."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    name: str
    target: Any  # the registered object, or "package.module:Attribute" to import on first use (lazy.py)
    source: str  # plugin name
    kind: str = ""
    description: str = ""  # given at registration; else read from the docstring (without importing)

    @cached_property
    def obj(self) -> Any:
        """The registered object. The one place where a lazily registered entry is imported."""
        if not is_lazy_target(self.target):
            return self.target
        return load_target(self.target, what=f"{_SINGULAR.get(self.kind, 'plugin object')} '{self.name}' "
                                             f"of plugin '{self.source}'")

    @cached_property
    def summary(self) -> Summary:
        """Description and task types for ``mu-eval list``; imports nothing for a lazy entry."""
        found = static_summary(self.target) if is_lazy_target(self.target) else summary_of(self.target)
        return Summary(self.description or found.description, found.task_types)


def disabled_from_env() -> set[str]:
    raw = os.environ.get("MU_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


class Registry:
    """All methods, models, metrics, dataset builders and task paths that plugins registered."""

    def __init__(self, *, disabled: Iterable[str] | None = None, load_entry_points: bool = True,
                 extra_plugins: Iterable[tuple[str, Any]] = ()):
        self.disabled = set(disabled) if disabled is not None else disabled_from_env()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS if kind != "tasks"}
        self.task_paths: list[Entry] = []
        if load_entry_points:
            self._load_entry_points()
        for name, plugin in extra_plugins:
            self._register_plugin(plugin, PluginInfo(name=name))
        self._collect()

    # ----------------------------------------------------------- loading
    def _load_entry_points(self) -> None:
        eps = metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
        for ep in sorted(eps, key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            if ep.name in self.disabled or (info.distribution and info.distribution in self.disabled):
                info.status = "disabled"
                self.plugins[ep.name] = info
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                self._fail(info, f"failed to import: {type(exc).__name__}: {exc}")
                continue
            self._register_plugin(module, info)

    def _register_plugin(self, plugin: Any, info: PluginInfo) -> None:
        if info.name in self.plugins and self.plugins[info.name].status == "loaded":
            raise MuError(f"two plugins are named '{info.name}'")
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:
            self._fail(info, f"is not a valid plugin: {type(exc).__name__}: {exc}")
            return
        self.plugins[info.name] = info

    def _fail(self, info: PluginInfo, problem: str) -> None:
        info.status, info.error = "failed", problem
        self.plugins[info.name] = info
        dist = f" (distribution {info.distribution} {info.version})" if info.distribution else ""
        log.warning("plugin '%s'%s %s", info.name, dist, problem.replace("\n", " "))

    def _collect(self) -> None:
        for kind in KINDS:
            caller = getattr(self.pm.hook, f"mu_register_{kind}")
            for impl in caller.get_hookimpls():
                info = self.plugins.get(impl.plugin_name)
                if info is None or info.status != "loaded":
                    continue
                added: list[Entry] = []
                try:
                    impl.function(register=self._register_callback(kind, impl.plugin_name, added))
                except DuplicateNameError:
                    raise
                except Exception as exc:
                    for entry in added:  # drop what this hook half-registered
                        self._remove(kind, entry)
                    self._fail(info, f"raised in mu_register_{kind}: {type(exc).__name__}: {exc}")
                    continue
                info.registered.setdefault(kind, []).extend(e.name for e in added)

    def _register_callback(self, kind: str, source: str, added: list[Entry]) -> Callable[..., None]:
        if kind == "tasks":
            def register_task_path(path: str | os.PathLike[str]) -> None:
                p = Path(path)
                if not p.exists():
                    raise MuError(f"plugin '{source}' registered task path {p}, which does not exist")
                entry = Entry(str(p), p, source)
                self.task_paths.append(entry)
                added.append(entry)
            return register_task_path

        table = self._entries[kind]

        def register(name: str, obj: Any, description: str = "") -> None:
            if not isinstance(name, str) or not name:
                raise MuError(f"plugin '{source}' registered a {_SINGULAR[kind]} without a name")
            if name in table:
                raise DuplicateNameError(_SINGULAR[kind], name, table[name].source, source)
            entry = Entry(name, obj, source, kind, description)
            table[name] = entry
            added.append(entry)
        return register

    def _remove(self, kind: str, entry: Entry) -> None:
        if kind == "tasks":
            self.task_paths.remove(entry)
        else:
            self._entries[kind].pop(entry.name, None)

    # ----------------------------------------------------------- queries
    def names(self, kind: str) -> list[str]:
        if kind == "tasks":
            raise ValueError("task names come from the TaskIndex, not the registry")
        return sorted(self._entries[kind])

    def entry(self, kind: str, name: str, context: str | None = None) -> Entry:
        try:
            return self._entries[kind][name]
        except KeyError:
            raise UnknownNameError(_SINGULAR[kind], name, self._entries[kind], context) from None

    def method(self, name: str, context: str | None = None) -> type:
        return self.entry("methods", name, context).obj

    def model(self, name: str, context: str | None = None) -> type:
        return self.entry("models", name, context).obj

    def metric(self, name: str, context: str | None = None) -> Callable[..., Any]:
        return self.entry("metrics", name, context).obj

    def dataset(self, name: str, context: str | None = None) -> Callable[..., Any]:
        return self.entry("datasets", name, context).obj

    def judge(self, name: str, context: str | None = None) -> Callable[..., Any]:
        return self.entry("judges", name, context).obj

    def router(self, name: str, context: str | None = None) -> type:
        return self.entry("routers", name, context).obj


_default: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry built from installed entry points."""
    global _default
    if _default is None or refresh:
        _default = Registry()
    return _default
