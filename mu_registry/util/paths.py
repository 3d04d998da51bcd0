"""Where mu-registry keeps caches (models, downloaded id lists)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def expand_path(path: str | Path, base: Path | None = None) -> Path:
    """``path`` with ``~`` and ``$VARS`` expanded; a relative path is taken from ``base`` when given."""
    p = Path(os.path.expandvars(os.path.expanduser(str(path))))
    return p if p.is_absolute() or base is None else base / p


def cache_dir() -> Path:
    """``$MU_CACHE_DIR``, else ``$XDG_CACHE_HOME/mu_registry``, else ``~/.cache/mu_registry``."""
    env = os.environ.get("MU_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mu_registry"


def sha256_file(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (a downloaded archive can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
