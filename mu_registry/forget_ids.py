"""Resolving ``forget.ids_file``: a local path, or a URL pinned by its checksum.

``ids_file`` may be

* a path (relative to the task YAML, ``~`` and ``$VARS`` expanded), or
* ``URL#sha256=<hex>``: downloaded once into the cache and verified; a file
  whose checksum differs is rejected, never used.

``$MU_FORGET_IDS_DIR``, when set, is searched first for a file with the URL's
last two path parts (``ucf101/5.txt``) or its base name (``imdb.txt``), so
users without network can point at a local copy of MU-Bench's ``df/`` folder.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from .atomic import atomic_write_text
from .errors import ConfigError
from .paths import cache_dir, expand_path


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def resolve_ids_file(spec: str | None, *, base: Path, source: str) -> Path:
    local = check_ids_spec(spec, base=base, source=source)
    if local is not None:
        return local
    url, _, fragment = spec.partition("#")  # type: ignore[union-attr]
    want = fragment[len("sha256="):].lower()
    parts = url.rstrip("/").rsplit("/", 2)
    name = parts[-1]
    local_dir = os.environ.get("MU_FORGET_IDS_DIR")
    # a copy of MU-Bench's df/ folder: 'imdb.txt', or 'ucf101/5.txt' for per-ratio files
    candidates = [Path(local_dir) / parts[-2] / name, Path(local_dir) / name] if local_dir else []
    cached = cache_dir() / "forget_ids" / want[:16] / name
    candidates.append(cached)
    for cand in candidates:
        if cand.exists():
            got = sha256_file(cand)
            if got != want:
                raise ConfigError(source, "forget.ids_file", f"{cand} has sha256 {got[:12]}…, expected {want[:12]}…")
            return cand
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 (URL comes from task config)
            text = resp.read().decode()
    except Exception as exc:
        raise ConfigError(source, "forget.ids_file",
                          f"cannot download {url} ({type(exc).__name__}: {exc}); set MU_FORGET_IDS_DIR to a folder "
                          f"holding '{name}'") from None
    got = hashlib.sha256(text.encode()).hexdigest()
    if got != want:
        raise ConfigError(source, "forget.ids_file", f"downloaded {url} has sha256 {got[:12]}…, expected {want[:12]}…")
    atomic_write_text(cached, text)
    return cached
