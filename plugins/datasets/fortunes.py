"""Real labelled text from Debian's ``fortunes`` package: classify a fortune's category.

The files under /usr/share/games/fortunes/ hold short texts separated by
lines with a single ``%``; the file name is the label. Only neutral categories
are used by default. Texts are de-duplicated, stripped of attributions' extra
whitespace, and kept if 20-400 characters long; each class is capped at
``max_per_class`` (a seeded sample) and split 80/20, stratified.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from mu_registry import MuError, Split

from .splitting import stratified_splits

DEFAULT_ROOT = "/usr/share/games/fortunes"
NEUTRAL = ("computers", "science", "politics", "work")


def read_fortunes(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    items = []
    for chunk in text.split("\n%\n"):
        chunk = " ".join(chunk.replace("%", " ").split())
        if 20 <= len(chunk) <= 400:
            items.append(chunk)
    return list(dict.fromkeys(items))


@lru_cache(maxsize=4)
def _load(root: str, categories: tuple[str, ...], max_per_class: int) -> tuple[list[str], np.ndarray]:
    texts: list[str] = []
    labels: list[int] = []
    rng = np.random.default_rng(0)
    for label, cat in enumerate(categories):
        path = Path(root) / cat
        if not path.exists():
            raise MuError(f"fortune file {path} not found; install Debian's 'fortunes' package "
                          "or set dataset.builder_args.root")
        items = read_fortunes(path)
        if len(items) > max_per_class:
            items = [items[i] for i in np.sort(rng.choice(len(items), max_per_class, replace=False))]
        texts += items
        labels += [label] * len(items)
    return texts, np.asarray(labels, dtype=np.int64)


def fortunes(categories: list[str] | None = None, max_per_class: int = 500,
             root: str | None = None) -> dict[str, Split]:
    """Splits 'train'/'test' with columns 'text' (str) and 'label' (index into ``categories``)."""
    root = root or os.environ.get("MU_FORTUNES_DIR") or DEFAULT_ROOT
    texts, labels = _load(str(root), tuple(categories or NEUTRAL), int(max_per_class))
    return stratified_splits({"text": texts, "label": labels}, labels, 0.2)
