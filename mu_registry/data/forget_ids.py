"""Resolving ``forget.ids_file``: a local path, or a URL pinned by its checksum.

``ids_file`` may be

* a path (relative to the task YAML, ``~`` and ``$VARS`` expanded), or
* ``URL#sha256=<hex>``: downloaded once into the cache and verified; a file
  whose checksum differs is rejected, never used.

``$MU_FORGET_IDS_DIR``, when set, is searched first for a file with the URL's
last two path parts (``ucf101/5.txt``) or its base name (``imdb.txt``), so
users without network can point at a local copy of MU-Bench's ``df/`` folder;
then ``<data>/mubench-forget-ids`` (where ``mu-eval data get mubench-<task>``
puts them) and the cache. Downloads go through ``pooch`` (see
:func:`mu_registry.data.sources.pooch_fetch`).
"""

from __future__ import annotations

import os
from pathlib import Path

from mu_registry.config.checks import check_ids_spec
from mu_registry.data.sources import data_root, pooch_fetch
from mu_registry.util.errors import ConfigError, MuError
from mu_registry.util.paths import cache_dir, sha256_file


def resolve_ids_file(spec: str | None, *, base: Path, source: str) -> Path:
    local = check_ids_spec(spec, base=base, source=source)
    if local is not None:
        return local
    url, _, fragment = spec.partition("#")  # type: ignore[union-attr]
    want = fragment[len("sha256="):].lower()
    parts = url.rstrip("/").rsplit("/", 2)
    name = parts[-1]
    local_dirs = [Path(d) for d in (os.environ.get("MU_FORGET_IDS_DIR"),) if d]
    local_dirs.append(data_root() / "mubench-forget-ids")
    # a copy of MU-Bench's df/ folder: 'imdb.txt', or 'ucf101/5.txt' for per-ratio files
    candidates = [c for d in local_dirs for c in (d / parts[-2] / name, d / name)]
    cached = cache_dir() / "forget_ids" / want[:16] / name
    candidates.append(cached)
    for cand in candidates:
        if cand.exists():
            got = sha256_file(cand)
            if got != want:
                raise ConfigError(source, "forget.ids_file", f"{cand} has sha256 {got[:12]}…, expected {want[:12]}…")
            return cand
    try:
        return Path(pooch_fetch(url, want, cached.parent, name, progress=False))
    except MuError as exc:
        raise ConfigError(source, "forget.ids_file", f"{exc}; run `mu-eval data get mubench-<task>` where the "
                          f"network is, or set MU_FORGET_IDS_DIR to a folder holding '{name}'") from None
