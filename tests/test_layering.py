"""The package layering, as a test: an ``ast`` walk of ``mu_registry`` and the built-in plugins (every import
statement, those inside functions included; ``if TYPE_CHECKING:`` blocks left out) fails on an import cycle,
an upward import, a core module importing a built-in plugin, a built-in plugin importing anything of
``mu_registry`` but the facade, an in-function import that is not commented, or a module at the top level."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"mu_registry": REPO / "mu_registry", "mu_registry_plugins": REPO / "plugins"}
#: bottom to top: a module may import its own layer and the layers below it
LAYERS = ["util", "config", "training", "api", "registry", "data", "evaluation", "report", "protocols", "run",
          "papers", "cli"]
TOP_LEVEL_ALLOWED = {"__init__", "__main__"}


def _modules() -> dict[str, Path]:
    out = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, int, bool, str]]:
    """(imported module, line, inside a function, source line) for every import of a project module."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            skip.update(id(n) for n in ast.walk(node))
    in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f)}
    lines = path.read_text().splitlines()
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            resolved = _resolve(target)
            if resolved and resolved != module:
                found.append((resolved, node.lineno, id(node) in in_function, lines[node.lineno - 1]))
    return found


EDGES = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "mu_registry" and len(parts) > 1 else None


def test_no_import_cycles():
    graph = defaultdict(set)
    for module, edges in EDGES.items():
        graph[module].update(target for target, *_ in edges)
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in list(MODULES):
        if v not in index:
            visit(v)
    assert cycles == []


def test_every_core_module_is_in_a_layer_and_none_sits_at_the_top_level():
    top = sorted(m for m in MODULES if m.startswith("mu_registry.") and m.count(".") == 1
                 and (PACKAGES["mu_registry"] / f"{m.split('.')[1]}.py").exists())
    assert [m for m in top if m.split(".")[1] not in TOP_LEVEL_ALLOWED] == []
    unknown = {_layer(m) for m in MODULES if _layer(m) and _layer(m) not in LAYERS + list(TOP_LEVEL_ALLOWED)}
    assert unknown == set()


def test_layers_import_only_downward():
    upward = []
    for module, edges in EDGES.items():
        src = _layer(module)
        if src is None or src in TOP_LEVEL_ALLOWED:
            continue
        for target, line, _, text in edges:
            dst = _layer(target)
            if target == "mu_registry":
                dst = "api"  # the facade re-exports the contract
            if dst in LAYERS and LAYERS.index(dst) > LAYERS.index(src):
                upward.append(f"{MODULES[module].relative_to(REPO)}:{line} ({src} -> {dst}): {text.strip()}")
    assert upward == []


def test_core_never_imports_a_builtin_plugin():
    found = [f"{MODULES[m].relative_to(REPO)}:{line}: {text.strip()}" for m, edges in EDGES.items()
             if m.startswith("mu_registry.") or m == "mu_registry"
             for target, line, _, text in edges if target.startswith("mu_registry_plugins")]
    assert found == []


def test_builtin_plugins_import_only_the_facade():
    """What a third party can import is what a built-in may: ``from mu_registry import ...``."""
    found = [f"{MODULES[m].relative_to(REPO)}:{line}: {text.strip()}" for m, edges in EDGES.items()
             if m.startswith("mu_registry_plugins")
             for target, line, _, text in edges if target.startswith("mu_registry") and target != "mu_registry"
             and not target.startswith("mu_registry_plugins")]
    assert found == []


def test_imports_inside_functions_are_commented():
    """An import of a project module inside a function is there to keep ``mu-eval --help`` fast (or an optional
    dependency out of the way), and says so; never to dodge a cycle."""
    silent = [f"{MODULES[m].relative_to(REPO)}:{line}: {text.strip()}" for m, edges in EDGES.items()
              if m.startswith("mu_registry")
              for target, line, in_function, text in edges if in_function and "#" not in text]
    assert silent == []


@pytest.mark.parametrize("name", __import__("mu_registry").__all__)
def test_the_facade_exports_resolve(name):
    import mu_registry

    assert getattr(mu_registry, name) is not None
