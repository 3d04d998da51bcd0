"""Atomic writes: a reader never sees a half-written results file or checkpoint. Under a launcher with
several processes only rank 0 writes (the others hold the same results)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mu_registry.util.rank import is_main


def atomic_write(path: Path, write) -> None:
    """Call ``write(binary file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    if not is_main():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    atomic_write(path, lambda fh: torch.save(obj, fh))


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
