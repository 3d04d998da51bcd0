"""What the transformers engine computes once and reuses while the weights it depends on stay the same.

- ``TensorDigests``: a content digest (sha256 of the bytes) per tensor, recomputed only for tensors that
  changed since they were last read. A tensor counts as unchanged while it is the same object (held by a weak
  reference, so its address cannot be reused behind our back), at the same storage address, with the same
  version counter (every in-place write through autograd's view of it bumps the counter: optimizer steps,
  ``load_state_dict``, ``copy_`` under ``no_grad``). ``fingerprint(module, keep)`` digests the tensors a
  request depends on: the base weights and the adapter that answers (LUMoE's base route does not change
  when an expert is added), or the vision tower alone for image features.
- ``image_digest``: the content of an image (array bytes, or a file's bytes), not its name; of a row's tuple
  of images, their digests in order.
- ``LRUBytes``: a least-recently-used store bounded in bytes (prefix key/value caches, image features).

Not seen by the change detector: writes through ``tensor.data`` (a separate version counter); the engine
rehashes everything when told ``sync(module, rehash=True)``.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from mu_registry.evaluation.answer_cache import hash_tensor
from mu_registry.evaluation.engines.base import ACTIVE


def tensor_digest(name: str, t: torch.Tensor) -> str:
    h = hashlib.sha256()
    hash_tensor(h, name, t)
    return h.hexdigest()[:32]


class TensorDigests:
    """Per-tensor content digests, recomputed only where a tensor changed (see the module docstring)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Any, int, int, str]] = {}
        self.hashed = 0  # tensors hashed so far (a test reads it)

    def clear(self) -> None:
        self._seen.clear()

    def digest(self, name: str, t: torch.Tensor) -> str:
        rec = self._seen.get(name)
        if rec is not None and rec[0]() is t and rec[1] == t.data_ptr() and rec[2] == t._version:
            return rec[3]
        d = tensor_digest(name, t)
        self.hashed += 1
        self._seen[name] = (weakref.ref(t), t.data_ptr(), t._version, d)
        return d

    def fingerprint(self, module: nn.Module, keep: Callable[[str], bool] = lambda _: True) -> str:
        h = hashlib.sha256()
        for name, t in sorted(module.state_dict(keep_vars=True).items()):
            if keep(name):
                h.update(name.encode())
                h.update(self.digest(name, t).encode())
        return h.hexdigest()[:32]


def route_filter(module: nn.Module, adapter: str | None) -> Callable[[str], bool]:
    """The tensors a route answers with: with adapters off (``None``) the base weights; an adapter's name,
    the base and that adapter; ``ACTIVE``, everything (the module as it is)."""
    if adapter == ACTIVE:
        return lambda _: True
    if adapter is None:
        return lambda name: "lora_" not in name
    return lambda name: "lora_" not in name or f".{adapter}." in name or name.endswith(f".{adapter}")


_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def image_digest(image: Any) -> str | None:
    """A digest of an image's content: array bytes (with shape and dtype), or the bytes of an image file
    (memoised by path, size and modification time). ``None`` for what it cannot read."""
    if image is None:
        return None
    if isinstance(image, tuple):  # several images in one row (a one-shot example's, then the row's own)
        parts = [image_digest(i) for i in image]
        if any(d is None for d in parts):
            return None
        return "tuple:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]  # type: ignore[arg-type]
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in _FILE_DIGESTS:
            with open(path, "rb") as fh:
                _FILE_DIGESTS[key] = "file:" + hashlib.sha256(fh.read()).hexdigest()[:32]
        return _FILE_DIGESTS[key]
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    try:
        arr = np.ascontiguousarray(np.asarray(image))
    except Exception:  # noqa: BLE001 - an image we cannot read as an array is simply not cached
        return None
    if arr.dtype == object:
        return None
    h = hashlib.sha256(f"{arr.dtype}{arr.shape}".encode())
    h.update(arr.tobytes())
    return "arr:" + h.hexdigest()[:32]


def nbytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    return 64


class LRUBytes:
    """A least-recently-used store bounded in bytes (an entry larger than the budget is not kept)."""

    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Any) -> Any | None:
        rec = self._items.get(key)
        if rec is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return rec[0]

    def put(self, key: Any, value: Any) -> None:
        size = nbytes(value)
        if size > self.budget:
            return
        if key in self._items:
            self.size -= self._items.pop(key)[1]
        self._items[key] = (value, size)
        self.size += size
        while self.size > self.budget:
            _, (_, old) = self._items.popitem(last=False)
            self.size -= old

    def clear(self) -> None:
        self._items.clear()
        self.size = 0
