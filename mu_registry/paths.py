"""Where mu-registry keeps caches (models, downloaded id lists)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MU_CACHE_DIR``, else ``$XDG_CACHE_HOME/mu_registry``, else ``~/.cache/mu_registry``."""
    env = os.environ.get("MU_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mu_registry"
