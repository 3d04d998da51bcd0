"""A fixed, stratified train/test split for builders whose source has none."""

from __future__ import annotations

import numpy as np

from mu_registry import Split


def stratified_splits(columns: dict[str, object], labels: np.ndarray, test_fraction: float,
                      seed: int = 0) -> dict[str, Split]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    tr, te = np.sort(tr), np.sort(te)

    def take(col, pos):
        return col[pos] if isinstance(col, np.ndarray) else [col[i] for i in pos]

    return {name: Split(name, {k: take(v, pos) for k, v in columns.items()}, np.arange(len(pos)))
            for name, pos in (("train", tr), ("test", te))}
