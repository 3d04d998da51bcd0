"""Built-in plugins register import paths; nothing heavy is imported until a run needs it."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from mu_registry import hookimpl
from mu_registry.util.errors import MuError
from mu_registry.registry.lazy import is_lazy_target, static_summary, summary_of
from mu_registry.registry.manager import Registry

KINDS = ("methods", "models", "metrics", "datasets", "judges", "routers")


def _modules_after(argv: list[str]) -> set[str]:
    code = ("import contextlib, io, sys\nfrom mu_registry.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass\n"
            "print(' '.join(m for m in ('torch', 'transformers', 'datasets', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


@pytest.mark.parametrize("argv", [["--help"], ["list", "methods"], ["list", "models"], ["validate", "digits-class"]])
def test_cli_answers_without_importing_torch(argv):
    assert _modules_after(argv) == set()


def test_every_builtin_has_a_description_and_its_static_summary_matches_the_imported_object():
    reg = Registry()
    for kind in KINDS:
        for name in reg.names(kind):
            entry = reg.entry(kind, name)
            if not entry.source.startswith("builtin_"):
                continue
            assert is_lazy_target(entry.target), (kind, name)
            summary = entry.summary
            assert summary.description, (kind, name)
            assert summary == summary_of(entry.obj), (kind, name)  # read without importing == imported
            if kind in ("methods", "models"):
                assert summary.task_types in (("classification",), ("generation",)), (kind, name)


def test_a_lazy_entry_is_imported_once_on_first_use():
    reg = Registry()
    entry = reg.entry("methods", "ga")
    assert "obj" not in entry.__dict__  # not resolved yet
    cls = reg.method("ga")
    assert cls.__name__ == "GA" and reg.method("ga") is cls


def test_a_target_that_cannot_be_imported_names_the_plugin_and_the_reason():
    plugin = types.SimpleNamespace(mu_register_methods=hookimpl(
        lambda register: register("x/missing", "mu_no_such_package.mod:Thing", description="not installed")))
    reg = Registry(load_entry_points=False, extra_plugins=[("xplug", plugin)])
    assert reg.entry("methods", "x/missing").summary.description == "not installed"
    with pytest.raises(MuError, match=r"method 'x/missing' of plugin 'xplug' cannot be loaded: importing "
                                      r"mu_no_such_package.mod failed \(ModuleNotFoundError"):
        reg.method("x/missing")


def test_static_summary_follows_imports_and_base_classes():
    # GenerativeGA declares no `supports`; its base class GenerativeMethod (imported from the facade) does
    assert static_summary("mu_registry_plugins.methods.ga:GenerativeGA").task_types == ("generation",)
    # `from mu_registry import Method`: re-exported lazily by mu_registry/__init__.py
    assert static_summary("mu_registry_plugins.methods.ga:GA").task_types == ("classification",)
    assert static_summary("mu_registry.no_such_module:X").description == ""
