"""scikit-learn's bundled handwritten digits (UCI optdigits test set): 1,797 8×8 images, 10 classes.

It has no official train/test split; a fixed stratified 75/25 split (seed 0)
is made here so every run sees the same one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mu_registry import Split


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    idx = np.arange(len(d.target))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=d.target)
    return images, d.target.astype(np.int64), np.sort(tr), np.sort(te)


def digits() -> dict[str, Split]:
    """Splits 'train' (1,347) and 'test' (450): 'image' (float32, 1×8×8 in [0, 1]) and 'label'."""
    images, labels, tr, te = _load()
    return {
        "train": Split("train", {"image": images[tr], "label": labels[tr]}, np.arange(len(tr))),
        "test": Split("test", {"image": images[te], "label": labels[te]}, np.arange(len(te))),
    }
