"""A cache of model answers that cannot go stale.

An entry is keyed by what produced it: a fingerprint of the model's weights as they are when it
answers (every parameter and buffer, LoRA adapters included, plus which adapter is active or whether
adapters are off), a digest of the evaluation rows (prompt tokens, reference answers, options and
images), and the request (mode, max_new_tokens, stop strings; with sampling its temperature, top-k,
top-p and seed, so a sampled answer is never read back for greedy decoding or other settings). Unlike
a cache keyed on the request alone (the problem of lm-eval's issues #2715 and #4063), changing the
weights changes the key, so an earlier model's answers are never returned for a later model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mu_registry.util.atomic import atomic_write_json
from mu_registry.api.qa import EncodedQA


def hash_tensor(h: Any, name: str, tensor: torch.Tensor) -> None:
    """Feed one named tensor (name, dtype, shape, bytes) into the hash ``h``."""
    t = tensor.detach().cpu().contiguous()
    h.update(name.encode())
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def weights_fingerprint(model: nn.Module) -> str:
    """sha256 over every tensor of the state dict (names, dtypes, shapes, bytes): the base weights and every
    adapter. Which adapter answers is part of the request (the route), not of the fingerprint."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        hash_tensor(h, name, tensor)
    return h.hexdigest()[:32]


def tensor_versions(module: nn.Module) -> dict[str, tuple[int, int]]:
    """Per tensor of the state dict, (storage address, version counter): a cheap change detector, since
    every in-place update bumps a tensor's version and a replaced tensor has new storage. Unlike
    ``weights_fingerprint`` it reads no bytes, and it says nothing across processes or runs."""
    return {name: (t.data_ptr(), t._version) for name, t in module.state_dict(keep_vars=True).items()}


def rows_digest(data: EncodedQA) -> str:
    h = hashlib.sha256()
    for i in range(len(data)):
        h.update(json.dumps([data.prompts[i], data.answers[i], data.options[i] if data.options else None]).encode())
        img = data.images[i]
        for one in (img if isinstance(img, tuple) else (img,)):  # a row's images in order
            if one is None:
                h.update(b"-")
            elif isinstance(one, str):
                h.update(one.encode())
            else:
                h.update(np.ascontiguousarray(np.asarray(one)).tobytes())
        if isinstance(img, tuple):
            h.update(f"#{len(img)}".encode())
    return h.hexdigest()[:32]


class AnswerCache:
    """Answers and answer NLLs on disk under ``root``, one JSON file per key."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def key(self, fingerprint: str, data: EncodedQA, request: dict[str, Any]) -> str:
        blob = json.dumps({"weights": fingerprint, "rows": rows_digest(data), "request": request}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def get(self, key: str) -> tuple[list[str], np.ndarray] | None:
        path = self.root / f"{key}.json"
        if not path.exists():
            self.misses += 1
            return None
        rec = json.loads(path.read_text())
        self.hits += 1
        return rec["answers"], np.asarray(rec["nll"], dtype=np.float64)

    def put(self, key: str, answers: list[str], nll: np.ndarray) -> None:
        atomic_write_json(self.root / f"{key}.json", {"answers": answers, "nll": [float(x) for x in nll]})
