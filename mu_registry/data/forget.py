"""Choosing the forget set and cutting it into unlearning requests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mu_registry.api.data import Split
from mu_registry.util.errors import ConfigError
from mu_registry.config.task import ForgetConfig, RequestsConfig


def read_ids_file(path: Path) -> np.ndarray:
    """Training-set ids, one integer per line (blank lines and ``#`` comments skipped)."""
    ids = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            ids.append(int(line))
        except ValueError:
            raise ConfigError(str(path), f"line {lineno}", f"not an integer id: {line!r}") from None
    return np.asarray(ids, dtype=np.int64)


def select_forget_ids(train: Split, labels: np.ndarray, cfg: ForgetConfig, *, source: str,
                      ids_from_file: np.ndarray | None = None) -> np.ndarray:
    """Ids (from ``train.ids``) of the examples to forget."""
    n = len(train)
    if cfg.strategy == "random":
        k = max(1, int(round(cfg.ratio * n)))  # type: ignore[operator]
        rng = np.random.default_rng(cfg.seed)
        return np.sort(train.ids[rng.choice(n, size=k, replace=False)])
    if cfg.strategy == "class":
        present = set(np.unique(labels).tolist())
        missing = [c for c in cfg.classes if c not in present]
        if missing:
            raise ConfigError(source, "forget.classes", f"class(es) {missing} do not occur in the training split")
        return train.ids[np.isin(labels, cfg.classes)]
    assert ids_from_file is not None
    if cfg.ids_format == "mask":  # one 0/1 per training example (MU-Bench's UCF101 files, one per ratio)
        # the mask covers the whole source split; train may be a subset of it (max_examples, --limit)
        if len(ids_from_file) <= int(train.ids.max()) or not np.isin(ids_from_file, [0, 1]).all():
            raise ConfigError(source, "forget.ids_file", f"a mask needs one 0/1 line per training example "
                              f"(at least {int(train.ids.max()) + 1}), got {len(ids_from_file)} lines")
        chosen = train.ids[ids_from_file[train.ids].astype(bool)]
        if len(chosen) == 0:
            raise ConfigError(source, "forget.ids_file", "the mask selects no example of the training split")
        return np.sort(chosen)
    # strategy "ids": MU-Bench's lists hold 10% of the training set; ratio r takes the first r*N ids.
    in_train = ids_from_file[np.isin(ids_from_file, train.ids)]
    if len(in_train) == 0:
        raise ConfigError(source, "forget.ids_file", "none of the listed ids is in the training split")
    k = max(1, int(round(cfg.ratio * n)))  # type: ignore[operator]
    if k > len(in_train):
        raise ConfigError(source, "forget.ratio",
                          f"ratio {cfg.ratio} needs {k} ids but the file lists {len(in_train)} in the training split")
    return np.sort(in_train[:k])


def split_requests(forget_ids: np.ndarray, labels_by_id: dict[int, int], cfg: RequestsConfig, *,
                   seed: int, source: str) -> list[np.ndarray]:
    """Cut the forget ids into ``cfg.count`` requests."""
    if cfg.split == "by_class":
        classes = sorted({labels_by_id[int(i)] for i in forget_ids})
        if cfg.count != len(classes):
            raise ConfigError(source, "requests.count",
                              f"split 'by_class' makes one request per forgotten class ({len(classes)}), "
                              f"got {cfg.count}")
        return [np.sort(np.array([i for i in forget_ids if labels_by_id[int(i)] == c], dtype=np.int64))
                for c in classes]
    if cfg.count > len(forget_ids):
        raise ConfigError(source, "requests.count",
                          f"{cfg.count} requests but the forget set has only {len(forget_ids)} examples")
    rng = np.random.default_rng(seed + 7919)
    shuffled = forget_ids[rng.permutation(len(forget_ids))]
    return [np.sort(part) for part in np.array_split(shuffled, cfg.count)]
