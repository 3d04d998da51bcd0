"""Caches trained original and retrain models under a hash of what produced them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from .atomic import atomic_write_json
from .paths import cache_dir


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class TrainedModel:
    module: nn.Module
    key: str
    train_time_s: float
    cached: bool


class ModelCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = (root or cache_dir()) / "models"
        self.enabled = enabled

    def get_or_train(self, parts: dict[str, Any], *, train: Callable[[], nn.Module],
                     save: Callable[[nn.Module, Path], None], load: Callable[[Path], nn.Module]) -> TrainedModel:
        key = cache_key(parts)
        weights, meta = self.root / f"{key}.pt", self.root / f"{key}.json"
        if self.enabled and weights.exists() and meta.exists():
            info = json.loads(meta.read_text())
            return TrainedModel(load(weights), key, float(info["train_time_s"]), cached=True)
        start = time.perf_counter()
        module = train()
        elapsed = time.perf_counter() - start
        if self.enabled:
            save(module, weights)  # weights first: meta marks the entry complete
            atomic_write_json(meta, {"key": key, "parts": parts, "train_time_s": elapsed,
                                     "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return TrainedModel(module, key, elapsed, cached=False)
