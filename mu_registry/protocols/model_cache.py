"""Caches trained original and retrain models under a hash of what produced them.

What produced them includes the model's code: the distribution and version of the plugin that
registered the model and a hash of the source of the modules its class (and base classes) live in,
so editing a plugin's model never reuses stale weights. An entry that cannot be read back (truncated,
corrupt) is named in one warning line and trained again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mu_registry.training.loop import EpochCheckpoints, epoch_checkpoints
from mu_registry.util.atomic import atomic_write_json
from mu_registry.util.paths import cache_dir


log = logging.getLogger("mu_registry")


def source_digest(cls: type) -> str:
    """A hash of the source of every module that defines ``cls`` or one of its base classes (torch,
    the standard library and builtins left out)."""
    digest = hashlib.sha256()
    seen: set[str] = set()
    for klass in cls.__mro__:
        mod_name = klass.__module__
        if mod_name in seen or mod_name.split(".")[0] in ("builtins", "abc", "typing", "torch"):
            continue
        seen.add(mod_name)
        module = sys.modules.get(mod_name)
        try:
            text = inspect.getsource(module) if module is not None else inspect.getsource(klass)
        except (OSError, TypeError):
            text = klass.__qualname__  # no source (a class built at run time): its name is all there is
        digest.update(mod_name.encode() + b"\0" + text.encode())
    return digest.hexdigest()[:16]


def model_identity(registry: Any, name: str, adapter: Any) -> dict[str, Any]:
    """Who provides model ``name`` and in which version of its code (part of every cache key)."""
    entry = registry.entry("models", name)
    info = registry.plugins.get(entry.source)
    return {"plugin": entry.source, "distribution": getattr(info, "distribution", None),
            "version": getattr(info, "version", None), "source": source_digest(type(adapter))}


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class TrainedModel:
    module: nn.Module
    key: str
    train_time_s: float
    cached: bool
    #: CPU threads torch trained it with (None: not recorded). CPU training is deterministic for a given
    #: thread count, but the order of floating-point reductions, and so the weights, can change with it.
    train_threads: int | None = None


class ModelCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = (root or cache_dir()) / "models"
        self.enabled = enabled
        #: seconds between two epoch checkpoints of one training ($MU_CHECKPOINT_EVERY_S, default 30)
        self.checkpoint_every_s = float(os.environ.get("MU_CHECKPOINT_EVERY_S", "30"))

    def get_or_train(self, parts: dict[str, Any], *, train: Callable[[], nn.Module],
                     save: Callable[[nn.Module, Path], None], load: Callable[[Path], nn.Module]) -> TrainedModel:
        key = cache_key(parts)
        weights, meta = self.root / f"{key}.pt", self.root / f"{key}.json"
        if self.enabled and weights.exists() and meta.exists():
            try:
                info = json.loads(meta.read_text())
                return TrainedModel(load(weights), key, float(info["train_time_s"]), cached=True,
                                    train_threads=info.get("torch_threads"))
            except Exception as exc:  # noqa: BLE001 - torch, json and the plugin's loader fail in many ways
                text = " ".join(str(exc).split())[:200]
                log.warning("model cache entry %s could not be read (%s: %s); training it again",
                            weights, type(exc).__name__, text)
                for path in (meta, weights):
                    path.unlink(missing_ok=True)
        start = time.perf_counter()
        threads = torch.get_num_threads()
        # epoch checkpoints beside the entry: an interrupted training resumes at its last finished epoch
        checkpoints = EpochCheckpoints(self.root / key, every_s=self.checkpoint_every_s) if self.enabled else None
        with epoch_checkpoints(checkpoints):
            module = train()
        elapsed = time.perf_counter() - start
        if self.enabled:
            try:
                save(module, weights)  # weights first: meta marks the entry complete
                atomic_write_json(meta, {"key": key, "parts": parts, "train_time_s": elapsed,
                                         "torch_threads": threads, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            except (OSError, RuntimeError) as exc:  # a full disk costs the cache entry, not the run
                log.warning("model cache entry %s not written (%s); the run goes on without it", weights,
                            " ".join(str(exc).split())[:200])
                for path in (meta, weights):
                    path.unlink(missing_ok=True)
            checkpoints.discard()  # type: ignore[union-attr]
        return TrainedModel(module, key, elapsed, cached=False, train_threads=threads)
