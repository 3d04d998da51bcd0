"""Finds task and group YAML files and turns names into validated configs.

Task files come from plugins (``mu_register_tasks``) and from the user's
``--include-path`` folders. Names are unique across all of them: two files
defining one name is an error naming both.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu_registry.util.errors import ConfigError, MuError, UnknownNameError
from mu_registry.config.checks import check_ids_spec
from mu_registry.registry.manager import Registry
from mu_registry.config.task import (
    GroupConfig,
    TaskConfig,
    content_hash,
    read_yaml,
    resolve_includes,
    validate_group,
    validate_task,
)

log = logging.getLogger("mu_registry")


@dataclass(frozen=True)
class TaskFile:
    name: str
    path: Path
    source: str  # the plugin (or include path) that provided it


@dataclass(frozen=True)
class LoadedTask:
    """A validated task config with where it came from."""

    config: TaskConfig
    path: Path
    source: str
    hash: str

    @property
    def name(self) -> str:
        return self.config.task


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """``raw`` with dotted keys set (``forget.ratio: 0.05``), the way ``--set`` changes a task."""
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node = out
        *parents, last = dotted.split(".")
        for i, part in enumerate(parents):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(source, ".".join(parents[:i + 1]), f"--set {dotted}: not a mapping")
            node = child
        node[last] = value
    return out


class TaskIndex:
    def __init__(self, registry: Registry, include_paths: list[str | Path] = (),  # type: ignore[assignment]
                 overrides: dict[str, Any] | None = None):
        self.registry = registry
        #: dotted key -> value applied to every task after includes (``mu-eval run --set``)
        self.overrides = dict(overrides or {})
        self.tasks: dict[str, TaskFile] = {}
        self.groups: dict[str, TaskFile] = {}
        self.broken: list[ConfigError] = []
        roots = [(Path(e.obj), e.source) for e in registry.task_paths]
        for inc in include_paths or ():
            p = Path(inc)
            if not p.exists():
                raise MuError(f"--include-path {p}: no such file or folder")
            roots.append((p, f"include-path:{p}"))
        for root, source in roots:
            for path in _yaml_files(root):
                self._index(path, source)

    def _index(self, path: Path, source: str) -> None:
        try:
            raw = read_yaml(path)
        except ConfigError as exc:
            self.broken.append(exc)
            log.warning("%s", exc)
            return
        if "group" in raw:
            table, name, kind = self.groups, raw.get("group"), "group"
        elif "task" in raw:
            table, name, kind = self.tasks, raw.get("task"), "task"
        else:
            exc = ConfigError(str(path), None, "neither 'task' nor 'group' is set "
                              "(name include-only templates with a leading '_')")
            self.broken.append(exc)
            log.warning("%s", exc)
            return
        if not isinstance(name, str) or not name:
            exc = ConfigError(str(path), kind, "must be a non-empty string")
            self.broken.append(exc)
            log.warning("%s", exc)
            return
        other = self.tasks.get(name) or self.groups.get(name)
        if other is not None:
            raise MuError(f"{kind} '{name}' is defined twice: in {other.path} (from '{other.source}') "
                          f"and in {path} (from '{source}')")
        table[name] = TaskFile(name, path, source)

    # ------------------------------------------------------------ lookups
    def all_names(self) -> list[str]:
        return sorted({*self.tasks, *self.groups})

    def load(self, name: str) -> LoadedTask:
        if name not in self.tasks:
            raise UnknownNameError("task", name, self.all_names())
        tf = self.tasks[name]
        raw = self.resolved(name)
        config = validate_task(raw, f"{tf.path} (with --set)" if self.overrides else str(tf.path))
        if config.task != name:  # an include cannot rename a task
            raise ConfigError(str(tf.path), "task", f"resolves to '{config.task}', expected '{name}'")
        return LoadedTask(config, tf.path, tf.source, content_hash(config))

    def resolved(self, name: str) -> dict[str, Any]:
        """The task's keys after ``include:`` (files or built-in task names) and ``--set``."""
        if name not in self.tasks:
            raise UnknownNameError("task", name, self.all_names())
        tf = self.tasks[name]
        raw = resolve_includes(tf.path, by_name=self._task_path)
        if self.overrides:
            raw = apply_overrides(raw, self.overrides, f"{tf.path} (with --set)")
        return raw

    def _task_path(self, name: str) -> Path | None:
        tf = self.tasks.get(name)
        return tf.path if tf is not None else None

    def load_group(self, name: str) -> GroupConfig:
        gf = self.groups[name]
        return validate_group(read_yaml(gf.path), str(gf.path))

    def expand(self, names: list[str]) -> list[str]:
        """Task names for ``names`` (groups expanded, recursively), in order, without repeats."""
        out: list[str] = []

        def visit(name: str, stack: tuple[str, ...]) -> None:
            if name in stack:
                raise MuError(f"group cycle: {' -> '.join((*stack, name))}")
            if name in self.groups:
                for member in self.load_group(name).task:
                    try:
                        visit(member, (*stack, name))
                    except UnknownNameError as exc:
                        raise MuError(f"{self.groups[name].path}: task: {exc}") from None
            elif name in self.tasks:
                if name not in out:
                    out.append(name)
            else:
                raise UnknownNameError("task", name, self.all_names())

        for n in names:
            visit(n, ())
        return out

    def check(self, loaded: LoadedTask) -> None:
        """Check the names a task refers to (builder, model, metrics, methods) exist; every problem is
        reported at once, in one line. Names only: a lazily registered plugin is not imported here."""
        cfg, src = loaded.config, str(loaded.path)
        checks: list[Any] = []
        if cfg.dataset.builder is not None:
            checks.append(lambda: self.registry.entry("datasets", cfg.dataset.builder,
                                                      context=f"{src}: dataset.builder"))
        checks.append(lambda: self.registry.entry("models", cfg.model.name, context=f"{src}: model.name"))
        for i, metric in enumerate(cfg.metrics):
            checks.append(lambda i=i, metric=metric: self.registry.entry("metrics", metric,
                                                                         context=f"{src}: metrics[{i}]"))

        def method(name: str, context: str) -> None:  # a preset of the task, or a method (an old name too)
            if name not in cfg.presets:
                self.registry.entry("methods", self.registry.canonical("methods", name, warn=False)[0], context)

        for name, preset in cfg.presets.items():
            checks.append(lambda name=name, preset=preset: method(preset["method"], f"{src}: presets.{name}.method"))
        for name in cfg.methods:
            checks.append(lambda name=name: method(name, f"{src}: methods"))
        for i, name in enumerate(cfg.default_methods):
            checks.append(lambda i=i, name=name: method(name, f"{src}: default_methods[{i}]"))
        if cfg.forget.strategy == "ids":
            checks.append(lambda: check_ids_spec(cfg.forget.ids_file_for_ratio(), base=loaded.path.parent, source=src))
        problems: list[MuError] = []
        for check in checks:
            try:
                check()
            except MuError as exc:
                problems.append(exc)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            rest = "; ".join(str(e).removeprefix(f"{src}: ") for e in problems[1:])
            raise MuError(f"{problems[0]}; and {len(problems) - 1} more: {rest}")


def _yaml_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [p for p in files if not p.name.startswith("_")]
