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

import mu_registry.api.hookspecs as hookspecs
from mu_registry.util.errors import DuplicateNameError, MuError, UnknownNameError, suggest
from mu_registry.registry.lazy import Summary, is_lazy_target, load_target, static_summary, summary_of

log = logging.getLogger("mu_registry")

KINDS = ("methods", "models", "metrics", "datasets", "judges", "routers", "protocols", "tasks")
_SINGULAR = {"methods": "method", "models": "model", "metrics": "metric", "datasets": "dataset builder",
             "judges": "judge", "routers": "router", "protocols": "protocol", "tasks": "task path"}


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
class Alias:
    """Another name for a registered entry. A deprecated alias prints one line when used; ``preset`` holds
    the parameters it stands for (``ga_klr`` is ``graddiff`` with ``retain_loss: kl``)."""

    name: str
    preset: dict[str, Any] = field(default_factory=dict)
    deprecated: bool = False
    source: str = ""


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
        #: (kind, name) -> every entry registered under a name two or more plugins claim (disabled)
        self._contested: dict[tuple[str, str], list[Entry]] = {}
        #: (kind, name) -> why an entry was disabled by validation (checked where a class is resolved)
        self._invalid: dict[tuple[str, str], tuple[Entry, str]] = {}
        self._valid: set[tuple[str, str]] = set()
        #: method name -> its implementations, one per task type, when a plugin registered several
        self._variants: dict[str, list[Entry]] = {}
        self._aliases: dict[str, dict[str, Alias]] = {kind: {} for kind in KINDS if kind != "tasks"}
        self._warned: set[str] = set()
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
        direct: list[tuple[str, str]] = []  # objects registered directly: checked once every kind is in
        for kind in KINDS:
            caller = getattr(self.pm.hook, f"mu_register_{kind}")
            for impl in caller.get_hookimpls():
                info = self.plugins.get(impl.plugin_name)
                if info is None or info.status != "loaded":
                    continue
                added: list[Entry] = []
                try:
                    impl.function(register=self._register_callback(kind, impl.plugin_name, added))
                except Exception as exc:
                    for entry in added:  # drop what this hook half-registered
                        self._remove(kind, entry)
                    self._fail(info, f"raised in mu_register_{kind}: {type(exc).__name__}: {exc}")
                    continue
                names = info.registered.setdefault(kind, [])
                names.extend(n for n in dict.fromkeys(e.name for e in added) if n not in names)
                # an object registered directly is checked after loading (a method may look up a router);
                # a lazy one when it is imported
                direct += [(kind, e.name) for e in added if kind != "tasks" and not is_lazy_target(e.target)]
        for kind, aliases in self._aliases.items():  # a name one plugin registers and another's alias: a clash too
            for name in [n for n in aliases if n in self._entries[kind] and aliases[n].source
                         != self._entries[kind][n].source]:
                alias = aliases.pop(name)
                self._contested[(kind, name)] = [Entry(name, f"alias of {alias.name}", alias.source, kind),
                                                 self._entries[kind].pop(name)]
        for kind, name in direct:
            if name in self._entries[kind]:
                self.validate(kind, name)
        for (kind, name), entries in self._contested.items():
            who = " and ".join(f"plugin '{e.source}'{self._dist(e.source)}" for e in entries)
            log.warning("%s '%s' is registered by both %s; it is disabled (a run that asks for it fails) and "
                        "everything else works; keep one with MU_DISABLE_PLUGINS=%s", _SINGULAR[kind], name, who,
                        entries[-1].source)

    def _dist(self, plugin: str) -> str:
        info = self.plugins.get(plugin)
        return f" ({info.distribution} {info.version})" if info is not None and info.distribution else ""

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

        def register(name: str, obj: Any, description: str = "", *, aliases: Iterable[str] = (),
                     deprecated_aliases: dict[str, dict[str, Any]] | Iterable[str] = ()) -> None:
            """``register(name, target)``; a method implemented per task type is registered once per
            implementation under one name. ``aliases``: other names for it; ``deprecated_aliases``: old
            names that still work with a one-line notice, each with the parameters it presets ({} for none)."""
            if not isinstance(name, str) or not name:
                raise MuError(f"plugin '{source}' registered a {_SINGULAR[kind]} without a name")
            entry = Entry(name, obj, source, kind, description)
            old = dict(deprecated_aliases) if isinstance(deprecated_aliases, dict) else \
                {a: {} for a in deprecated_aliases}
            for alias, preset in [*((a, {}) for a in aliases), *old.items()]:
                self._aliases[kind][alias] = Alias(name, dict(preset), alias in old, source)
            if (kind, name) in self._contested:
                self._contested[(kind, name)].append(entry)
                return
            if name in table and kind == "methods" and table[name].source == source:
                # one algorithm, another task type's implementation (the same plugin)
                self._variants.setdefault(name, [table[name]]).append(entry)
                added.append(entry)
                return
            if name in table:  # two plugins claim one name: neither gets it (warned once, after loading)
                self._contested[(kind, name)] = [table.pop(name), entry]
                return
            table[name] = entry
            added.append(entry)
        return register

    def _remove(self, kind: str, entry: Entry) -> None:
        if kind == "tasks":
            self.task_paths.remove(entry)
        else:
            self._entries[kind].pop(entry.name, None)
            self._variants.pop(entry.name, None)

    # ----------------------------------------------------------- queries
    def names(self, kind: str) -> list[str]:
        if kind == "tasks":
            raise ValueError("task names come from the TaskIndex, not the registry")
        return sorted(self._entries[kind])

    def entry(self, kind: str, name: str, context: str | None = None) -> Entry:
        prefix = f"{context}: " if context else ""
        if (kind, name) in self._contested:
            first, second = self._contested[(kind, name)][:2]
            exc = DuplicateNameError(_SINGULAR[kind], name, first.source, second.source)
            exc.args = (f"{prefix}{exc}",)
            raise exc
        if (kind, name) in self._invalid:
            entry, reason = self._invalid[(kind, name)]
            raise MuError(f"{prefix}{_SINGULAR[kind]} '{name}' of plugin '{entry.source}' is disabled: {reason}")
        try:
            return self._entries[kind][name]
        except KeyError:
            exc = UnknownNameError(_SINGULAR[kind], name, self._entries[kind], context)
            aliases = self._aliases.get(kind, {})
            near = suggest(name, [*self._entries[kind], *aliases])
            if near is not None:  # an old name close to the typo suggests the name it stands for
                names = [aliases[m].name if m in aliases else m for m in (x.strip("'") for x in near.split(" or "))]
                hint = " or ".join(f"'{m}'" for m in dict.fromkeys(names))
                exc.args = (f"{context + ': ' if context else ''}unknown {_SINGULAR[kind]} '{name}' "
                            f"(did you mean {hint}?)",)
            raise exc from None

    def validate(self, kind: str, name: str) -> str | None:
        """Check a registered method or model class (the right base class, instantiable, task types) the
        first time it is resolved; a bad one is disabled with one warning line naming its plugin and the
        reason, and ``None`` is returned for a good one."""
        if (kind, name) in self._valid:
            return None
        if (kind, name) in self._invalid:
            return self._invalid[(kind, name)][1]
        entry = self._entries[kind][name]
        try:
            reason = check_object(kind, entry.obj, self)
        except MuError as exc:  # a lazy target that does not import
            reason = str(exc)
        if reason is None:
            self._valid.add((kind, name))
            return None
        self._entries[kind].pop(name, None)
        self._invalid[(kind, name)] = (entry, reason)
        log.warning("plugin '%s'%s: %s '%s' is disabled: %s", entry.source, self._dist(entry.source),
                    _SINGULAR[kind], name, reason)
        return reason

    def usable(self, kind: str, name: str) -> bool:
        """Registered, not contested, and (for methods and models) a class that passes :meth:`validate`."""
        if name not in self._entries.get(kind, {}):
            return False
        return kind not in ("methods", "models") or self.validate(kind, name) is None

    def _resolved(self, kind: str, name: str, context: str | None) -> Any:
        entry = self.entry(kind, name, context)
        if self.validate(kind, name) is not None:
            return self.entry(kind, name, context)  # raises, naming the reason
        return entry.obj

    def canonical(self, kind: str, name: str, context: str | None = None, *, warn: bool = True
                  ) -> tuple[str, dict[str, Any]]:
        """(the registered name, the parameters an alias presets) for ``name`` or an alias of it; a deprecated
        alias prints one line (once) naming what to use instead."""
        if name in self._entries.get(kind, {}) or (kind, name) in self._contested or (kind, name) in self._invalid:
            return name, {}
        alias = self._aliases.get(kind, {}).get(name)
        if alias is None:
            return name, {}
        if alias.deprecated and warn and name not in self._warned:
            self._warned.add(name)
            preset = ", ".join(f"{alias.name}.{k}={v}" for k, v in alias.preset.items())
            log.warning("%s%s '%s' is deprecated: use '%s'%s (results recorded under '%s' still load)",
                        f"{context}: " if context else "", _SINGULAR[kind], name, alias.name,
                        f" with --method-args {preset}" if preset else "", name)
        return alias.name, dict(alias.preset)

    def aliases(self, kind: str) -> dict[str, Alias]:
        return dict(self._aliases.get(kind, {}))

    def method_renames(self) -> dict[str, str]:
        """Each deprecated method name -> the name (and preset) its results are recorded under now."""
        out = {}
        for old, alias in self._aliases["methods"].items():
            if alias.deprecated:
                preset = ",".join(f"{k}={v}" for k, v in alias.preset.items())
                out[old] = f"{alias.name}[{preset}]" if preset else alias.name
        return out

    def implementations(self, name: str) -> list[Entry]:
        """A method's implementations (one per task type it supports)."""
        entry = self._entries["methods"][name]
        return self._variants.get(name, [entry])

    def method_task_types(self, name: str, context: str | None = None) -> tuple[str, ...]:
        """Every task type a method (or an alias of it) supports, read without importing it."""
        name, _ = self.canonical("methods", name, context, warn=False)
        self.entry("methods", name, context)  # unknown, contested or disabled: one line
        types = [t for e in self.implementations(name) for t in (e.summary.task_types or ("classification",))]
        return tuple(dict.fromkeys(types))

    def method(self, name: str, context: str | None = None, task_type: str | None = None) -> type:
        """The method class registered as ``name`` (or an alias of it); with ``task_type``, the implementation
        for that task type (the first one when none supports it: the caller records it as not applicable)."""
        name, _ = self.canonical("methods", name, context, warn=False)
        cls = self._resolved("methods", name, context)
        variants = self._variants.get(name)
        if not variants or task_type is None or task_type in getattr(cls, "supports", ()):
            return cls
        for entry in variants[1:]:
            if task_type in (entry.summary.task_types or ()):
                try:
                    other = entry.obj
                except MuError as exc:
                    raise MuError(f"{context + ': ' if context else ''}{exc}") from None
                reason = check_object("methods", other, self)
                if reason is not None:
                    raise MuError(f"{context + ': ' if context else ''}method '{name}' ({task_type}) of plugin "
                                  f"'{entry.source}' is disabled: {reason}")
                return other
        return cls

    def model(self, name: str, context: str | None = None) -> type:
        return self._resolved("models", name, context)

    def metric(self, name: str, context: str | None = None) -> Callable[..., Any]:
        return self.entry("metrics", name, context).obj

    def dataset(self, name: str, context: str | None = None) -> Callable[..., Any]:
        return self.entry("datasets", name, context).obj

    def judge(self, name: str, context: str | None = None) -> Callable[..., Any]:
        return self.entry("judges", name, context).obj

    def router(self, name: str, context: str | None = None) -> type:
        return self.entry("routers", name, context).obj

    def protocol(self, task_type: str, context: str | None = None) -> type:
        """The protocol that runs tasks of ``task_type``."""
        return self.entry("protocols", task_type, context).obj


def check_object(kind: str, obj: Any, registry: Any = None) -> str | None:
    """Why a registered method or model class cannot be used, or ``None``: it must subclass the right
    base, be instantiable (no abstract method left, parameters with defaults) and declare task types."""
    import inspect

    if kind not in ("methods", "models"):
        return None if callable(obj) else f"registered object {obj!r} is not callable"
    if kind == "methods":
        from mu_registry.api.method import Method as base  # torch: kept out of `mu-eval --help` and `list`
        types_attr = "supports"
    else:
        from mu_registry.api.model import Model as base  # torch, as above
        types_attr = "task_types"
    if not isinstance(obj, type) or not issubclass(obj, base):
        return f"{obj!r} is not a subclass of mu_registry.{base.__name__}"
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        return f"{obj.__name__} cannot be instantiated: abstract method{'s' if ',' in missing else ''} {missing} " \
               f"not implemented"
    declared = getattr(obj, types_attr, None)
    if declared is not None and (not declared or not all(isinstance(t, str) and t for t in declared)):
        return f"{obj.__name__}.{types_attr} names no task type"
    if kind == "methods":
        try:
            obj(obj.make_params({}), registry=registry)
        except Exception as exc:  # noqa: BLE001 - whatever the constructor raises
            return f"{obj.__name__} cannot be instantiated with its default parameters: " \
                   f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return None


_default: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry built from installed entry points."""
    global _default
    if _default is None or refresh:
        _default = Registry()
    return _default
