"""Checks of single config values that need no network: a forget-ids file spec, secrets in judge arguments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mu_registry.util.errors import ConfigError, MuError
from mu_registry.util.paths import expand_path

SECRET_KEYS = ("api_key", "key", "token", "secret", "password", "authorization")
_KEY_LIKE = re.compile(r"^(sk-|sk_|Bearer\s|ghp_|hf_)[A-Za-z0-9_\-]{8,}")


def check_ids_spec(spec: str | None, *, base: Path, source: str) -> Path | None:
    """What can be checked without network: a local file exists (its path is returned), a URL is
    pinned by ``#sha256=`` (``None`` is returned)."""
    if not spec:
        raise ConfigError(source, "forget.ids_file", "not set")
    if "://" not in spec:
        p = expand_path(spec, base)
        if not p.exists():
            raise ConfigError(source, "forget.ids_file", f"file '{p}' does not exist")
        return p
    if not spec.partition("#")[2].startswith("sha256="):
        raise ConfigError(source, "forget.ids_file", "a URL must end in '#sha256=<hex digest>'")
    return None


def secret_key_in(judge_args: dict[str, Any]) -> str | None:
    """The first key of ``judge_args`` that holds (or is named for) a literal secret, else None."""
    for name, value in judge_args.items():
        if name.lower() in SECRET_KEYS or (isinstance(value, str) and _KEY_LIKE.match(value)):
            return str(name)
    return None


def refuse_secrets(judge_args: dict[str, Any], where: str = "generation.judge_args") -> None:
    """One line and no run when ``judge_args`` holds a literal key (it would be recorded with the config)."""
    name = secret_key_in(judge_args)
    if name is not None:
        raise MuError(f"{where}.{name}: a literal API key is refused (the task config is written into "
                      "results.json); put the key in an environment variable and name it with "
                      f"{where}.api_key_env (default OPENAI_API_KEY)")
