"""The plugin registry: entry points, guarded loading, disabling, duplicates, suggestions."""

from __future__ import annotations

import types

import pytest
from conftest import run_cli

from mu_registry import hookimpl
from mu_registry.util.errors import DuplicateNameError, UnknownNameError
from mu_registry.registry.manager import Registry


def _plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def test_builtins_come_through_the_entry_point_group():
    reg = Registry()
    for name in ("builtin_methods", "builtin_models", "builtin_metrics", "builtin_datasets", "builtin_judges",
                 "builtin_routers", "builtin_protocols", "builtin_tasks"):
        info = reg.plugins[name]
        assert info.status == "loaded" and info.distribution == "mu-registry"
    assert {"ga", "finetune", "random_label"} <= set(reg.names("methods"))
    assert reg.entry("methods", "ga").source == "builtin_methods"
    assert reg.plugins["builtin_models"].registered["models"] == [
        "small_cnn", "mlp", "hf_image", "hf_text", "hf_audio", "hf_video", "hf_vilt_pair", "tiny_llava", "hf_llava",
        "smollm2_llava"]
    assert reg.plugins["builtin_judges"].registered["judges"] == ["rule", "openai_compatible"]
    assert reg.plugins["builtin_routers"].registered["routers"] == ["entity", "oracle", "trained"]
    assert reg.plugins["builtin_protocols"].registered["protocols"] == ["classification", "generation"]
    assert "judges" not in reg.plugins["builtin_metrics"].registered  # each kind from its own plugin


def test_third_party_plugin_is_discovered(example_site, with_site):
    with_site(example_site)
    reg = Registry()
    info = reg.plugins["example"]
    assert (info.distribution, info.version, info.status) == ("mu-example-plugin", "0.3.1", "loaded")
    assert reg.entry("methods", "example/ascent_descent").source == "example"
    assert "example/forget_error" in reg.names("metrics")
    assert any(e.source == "example" for e in reg.task_paths)


def test_plugin_failing_at_import_gives_one_warning_and_the_rest_works(broken_site, example_site, with_site, caplog):
    with_site(broken_site, example_site)
    with caplog.at_level("WARNING", logger="mu_registry"):
        reg = Registry()
    assert reg.plugins["broken"].status == "failed"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "broken" in warnings[0] and "mu-broken-plugin 0.0.1" in warnings[0]
    assert "RuntimeError: this plugin is broken on purpose" in warnings[0]
    assert "example/ascent_descent" in reg.names("methods") and "ga" in reg.names("methods")


def test_plugin_raising_inside_a_hook_is_dropped_with_a_warning(caplog):
    def bad(register):
        register("half-registered", object)
        raise ValueError("boom")

    with caplog.at_level("WARNING", logger="mu_registry"):
        reg = Registry(extra_plugins=[("flaky", _plugin(mu_register_methods=bad))])
    assert "half-registered" not in reg.names("methods")
    assert reg.plugins["flaky"].status == "failed"
    assert any("flaky" in r.getMessage() and "ValueError: boom" in r.getMessage() for r in caplog.records)
    assert "ga" in reg.names("methods")


def test_disable_list_blocks_plugins_by_name(monkeypatch):
    monkeypatch.setenv("MU_DISABLE_PLUGINS", "builtin_methods, builtin_metrics")
    reg = Registry()
    assert reg.plugins["builtin_methods"].status == "disabled"
    assert reg.names("methods") == [] and reg.names("metrics") == []
    assert "small_cnn" in reg.names("models")


def test_disable_list_by_distribution_name_silences_a_broken_plugin(broken_site):
    res = run_cli("list", "methods", sites=(broken_site,), env={"MU_DISABLE_PLUGINS": "mu-broken-plugin"})
    assert res.returncode == 0 and "warning" not in res.stderr
    res = run_cli("list", "methods", sites=(broken_site,))
    assert res.returncode == 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mu-eval: warning: plugin 'broken'")
    assert "ga" in res.stdout


def test_two_plugins_registering_one_name_disable_only_that_name_naming_both(caplog):
    def mine(register):
        register("ga", object)
        register("mine/other", object)

    reg = Registry(extra_plugins=[("mine", _plugin(mu_register_methods=mine))])
    assert "ga" not in reg.names("methods") and "finetune" in reg.names("methods")
    with pytest.raises(DuplicateNameError, match="both plugin 'builtin_methods' and plugin 'mine'"):
        reg.method("ga")
    assert reg.method("finetune").__name__ == "Finetune"


def test_unknown_names_get_did_you_mean():
    reg = Registry()
    with pytest.raises(UnknownNameError, match=r"unknown method 'neggard' \(did you mean 'ga'\?\)"):
        reg.method("neggard")  # close to the old name 'neggrad': the name it stands for is suggested
    with pytest.raises(UnknownNameError, match=r"unknown method 'grddiff' \(did you mean 'graddiff'\?\)"):
        reg.method("grddiff")
    with pytest.raises(UnknownNameError, match="known: "):
        reg.model("zzzzzz")
