"""Shared fixtures: third-party plugin packages installed with pip, isolated caches, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PLUGIN_PACKAGES = HERE / "plugin_packages"
REPO = HERE.parent
SHARED = REPO.parent / "shared"


def _pip_install(package: Path, target: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(target), str(package)],
                   check=True, capture_output=True, text=True)
    return target


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """site folder holding the example third-party plugin, installed with pip."""
    return _pip_install(PLUGIN_PACKAGES / "mu-example-plugin", tmp_path_factory.mktemp("example_site"))


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory) -> Path:
    return _pip_install(PLUGIN_PACKAGES / "mu-broken-plugin", tmp_path_factory.mktemp("broken_site"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MU_PROGRESS", "0")
    monkeypatch.delenv("MU_DISABLE_PLUGINS", raising=False)


@pytest.fixture(autouse=True)
def restore_mu_logger():
    """``cli.main`` called in-process points the mu_registry logger at that test's (captured) stderr, stops
    propagation and renames levels; put it all back so later tests' warnings reach caplog as before."""
    import logging

    logger = logging.getLogger("mu_registry")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    names = {level: logging.getLevelName(level) for level in (logging.WARNING, logging.INFO)}
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]
    for level, name in names.items():  # cli renames WARNING to "warning" for its one-line format
        logging.addLevelName(level, name)


@pytest.fixture
def with_site(monkeypatch):
    """Put plugin site folders on sys.path for in-process registries."""
    def add(*sites: Path) -> None:
        for site in sites:
            monkeypatch.syspath_prepend(str(site))
    return add


@pytest.fixture
def mu(capsys):
    """``mu-eval ARGS`` in-process: (exit code, stderr lines without plugin warnings and info lines)."""
    import mu_registry.cli.main as cli

    def call(*args: str) -> tuple[int, list[str]]:
        code = cli.main(list(args))
        _, err = capsys.readouterr()
        noise = ("mu-eval: warning: plugin", "mu-eval: info:")
        return code, [line for line in err.strip().splitlines() if not line.startswith(noise)]
    return call


def run_cli(*args: str, sites: tuple[Path, ...] = (), env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``mu-eval`` in a subprocess with ``sites`` on PYTHONPATH."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([*map(str, sites), full_env.get("PYTHONPATH", "")]).strip(os.pathsep)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mu_registry", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=600)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def randomize_lora_b(module, std: float) -> None:
    """Give every LoRA B matrix random weights (peft starts them at zero, so an adapter changes nothing)."""
    import torch

    with torch.no_grad():
        for name, p in module.named_parameters():
            if "lora_B" in name:
                p.normal_(0, std)
