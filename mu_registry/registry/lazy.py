"""Lazily registered plugin objects: ``register(name, "package.module:Attribute")``.

A plugin may register a method, model, metric, dataset builder, judge or router by the *import path*
of its object instead of the object itself. Nothing is imported then: ``mu-eval --help``, ``list`` and
``validate`` stay fast even though the built-in plugins' modules import torch, transformers and
datasets. The object is imported the first time a run needs it (:func:`load_target`, called from
``registry.Entry.obj``, the one place that resolves such an entry).

What ``list`` shows of an entry that was not imported is read from its source without running it
(:func:`static_summary`): the first line of the class or function docstring and, for classes, the task
types it declares (``supports`` for methods, ``task_types`` for models), followed through base classes
imported with ``from X import Y``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mu_registry.util.errors import MuError

_TASK_TYPE_ATTRS = ("supports", "task_types")
# a full stop that ends a sentence, not an abbreviation ("et al.", "e.g.", "vs.", "Avg.")
_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\bAvg)(?<!\betc)\. (?=[A-Z(`])")


def is_lazy_target(obj: Any) -> bool:
    """True for a ``"package.module:Attribute"`` string."""
    if not isinstance(obj, str):
        return False
    module, sep, attr = obj.partition(":")
    return bool(sep and module and attr.isidentifier() and all(p.isidentifier() for p in module.split(".")))


def load_target(target: str, *, what: str) -> Any:
    """Import ``package.module:Attribute``; failures name ``what`` (e.g. "method 'ga' of plugin 'x'")."""
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise MuError(f"{what} cannot be loaded: importing {module_name} failed "
                      f"({type(exc).__name__}: {exc})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise MuError(f"{what} cannot be loaded: {module_name} has no attribute '{attr}'") from None


@dataclass(frozen=True)
class Summary:
    """What ``list`` shows without importing: the docstring's first line and the declared task types."""

    description: str = ""
    task_types: tuple[str, ...] = ()


_REST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(text: str) -> str:
    """reST markup as a terminal shows it: ``code`` and :role:`target` become code and target."""
    return _REST_ROLE.sub(r"\1", text).replace("``", "")


def one_line(doc: str | None, limit: int = 120) -> str:
    """The docstring's first sentence on one line (its first paragraph, cut at the first full stop), without
    reST markup."""
    paragraph = plain(" ".join(line.strip() for line in (doc or "").strip().split("\n\n")[0].splitlines()))
    end = _SENTENCE_END.search(paragraph)
    sentence = paragraph[: end.start() + 1] if end else paragraph
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def summary_of(obj: Any) -> Summary:
    """The same summary for an object that is already imported."""
    types: tuple[str, ...] = ()
    for attr in _TASK_TYPE_ATTRS:
        value = getattr(obj, attr, None) if isinstance(obj, type) else None
        if value:
            types = tuple(sorted(value))
            break
    doc = getattr(obj, "__doc__", None) if isinstance(obj, type) or callable(obj) else None
    if isinstance(obj, type) and doc == type.__doc__:
        doc = None
    if not doc:  # an undocumented class or function is described by its module's docstring
        doc = getattr(sys.modules.get(getattr(obj, "__module__", "") or ""), "__doc__", None)
    return Summary(one_line(doc), types)


@lru_cache(maxsize=None)
def _module_tree(module_name: str) -> tuple[ast.Module, bool] | None:
    """The module's parsed source and whether it is a package (an ``__init__.py``)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            return ast.parse(fh.read(), filename=spec.origin), spec.submodule_search_locations is not None
    except (OSError, SyntaxError):
        return None


def _literal_types(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("frozenset", "set", "tuple"):
        if not node.args:
            return ()
        node = node.args[0]
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (set, frozenset, list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(sorted(value))
    return None


def _imported_from(tree: ast.Module, module_name: str, name: str, is_package: bool = False) -> str | None:
    """The module a top-level ``from X import name`` brings ``name`` from (relative imports resolved)."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    nodes = list(tree.body) + [n for top in tree.body if isinstance(top, ast.If) for n in top.body]  # TYPE_CHECKING
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                return f"{base}.{node.module}" if node.module else base
            return node.module
    return None


def _class_task_types(module_name: str, class_name: str, depth: int = 0) -> tuple[str, ...]:
    parsed = _module_tree(module_name)
    if parsed is None or depth > 5:
        return ()
    tree, is_package = parsed
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if cls is None:
        source = _imported_from(tree, module_name, class_name, is_package)
        return _class_task_types(source, class_name, depth + 1) if source else ()
    for stmt in cls.body:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            continue
        targets, value = (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]), stmt.value
        if value is not None and any(isinstance(t, ast.Name) and t.id in _TASK_TYPE_ATTRS for t in targets):
            found = _literal_types(value)
            if found is not None:
                return found
    for base in cls.bases:
        if isinstance(base, ast.Name):
            source = _imported_from(tree, module_name, base.id, is_package) or module_name
            found = _class_task_types(source, base.id, depth + 1)
            if found:
                return found
    return ()


def static_summary(target: str) -> Summary:
    """The summary of ``package.module:Attribute`` read from its source file, without importing it
    (only its parent packages' ``__init__`` run, to find the file)."""
    module_name, _, attr = target.partition(":")
    parsed = _module_tree(module_name)
    if parsed is None:
        return Summary()
    tree, is_package = parsed
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attr:
            types = _class_task_types(module_name, attr) if isinstance(node, ast.ClassDef) else ()
            # an undocumented class or function is described by its module's docstring
            return Summary(one_line(ast.get_docstring(node) or ast.get_docstring(tree)), types)
    source = _imported_from(tree, module_name, attr, is_package)
    return static_summary(f"{source}:{attr}") if source and source != module_name else Summary()
