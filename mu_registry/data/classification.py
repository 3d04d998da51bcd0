"""The one place that turns a task config into runnable :class:`TaskData`."""

from __future__ import annotations

from typing import Any

import numpy as np

from mu_registry.api.data import Request, Split, TaskData
from mu_registry.util.errors import ConfigError
from mu_registry.data.forget import read_ids_file, select_forget_ids, split_requests
from mu_registry.registry.manager import Registry
from mu_registry.registry.task_index import LoadedTask
from mu_registry.data.hf import load_hf_splits
from mu_registry.data.forget_ids import resolve_ids_file


def load_source_splits(loaded: LoadedTask, registry: Registry) -> dict[str, Split]:
    """Splits by role (train, test, extra eval roles) as the dataset config names them."""
    cfg, src = loaded.config, str(loaded.path)
    ds = cfg.dataset
    if ds.builder is not None:
        builder = registry.dataset(ds.builder, context=f"{src}: dataset.builder")
        try:
            available = builder(**ds.builder_args)
        except TypeError as exc:
            raise ConfigError(src, "dataset.builder_args", str(exc)) from None
        out = {}
        for role, split_name in ds.splits.items():
            if split_name not in available:
                raise ConfigError(src, f"dataset.splits.{role}",
                                  f"builder '{ds.builder}' has no split '{split_name}' (has: {', '.join(available)})")
            out[role] = available[split_name]
        return out
    return load_hf_splits(ds, loaded.config.columns, source=src, base=loaded.path.parent,
                          num_frames=ds.video_frames)


def label_indices(values: Any, class_names: list[str], *, source: str, role: str) -> np.ndarray:
    """Labels as class indices: string labels map through ``class_names`` (``"DDI-advise"`` -> 2)."""
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_):
        return arr.astype(np.int64)
    index = {name: i for i, name in enumerate(class_names)}
    out = np.empty(len(arr), dtype=np.int64)
    for i, v in enumerate(arr.tolist()):
        key = str(v)
        if key not in index:
            raise ConfigError(source, "class_names", f"label {key!r} in split '{role}' is not one of the class names")
        out[i] = index[key]
    return out


def _subsample(split: Split, k: int, role: str) -> Split:
    if k >= len(split):
        return split
    rng = np.random.default_rng(0)  # fixed: the subset is part of the task, not the run
    return split.take(np.sort(rng.choice(len(split), size=k, replace=False)), role)


def _holdout(split: Split, role: str, fraction: float, label_column: str, *, source: str) -> tuple[Split, Split]:
    """(rest, held out): ``fraction`` of ``split`` stratified by label, seed 0 (fixed: part of the task)."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(split))
    labels = np.asarray(split.columns[label_column])
    try:
        rest, held = train_test_split(positions, test_size=fraction, random_state=0, stratify=labels)
    except ValueError as exc:  # a class with one row, or a share too small to hold one row of every class
        raise ConfigError(source, f"dataset.holdout.{role}", f"cannot cut {fraction} of '{split.name}' stratified "
                          f"by label: {exc}") from None
    return split.take(np.sort(rest), split.name), split.take(np.sort(held), role)


def build_task(loaded: LoadedTask, registry: Registry, *, limit: int | None = None) -> TaskData:
    """Load data, check columns, choose the forget set, and cut it into requests.

    ``limit`` caps every split (like lm-eval's ``--limit``) for quick runs.
    """
    cfg, src = loaded.config, str(loaded.path)
    splits = load_source_splits(loaded, registry)
    for role, split in list(splits.items()):
        for i, col in enumerate(cfg.columns.inputs):
            if col not in split.columns:
                raise ConfigError(src, f"columns.inputs[{i}]",
                                  f"column '{col}' is not in split '{role}' (has: {', '.join(split.columns)})")
        if cfg.columns.label not in split.columns:
            raise ConfigError(src, "columns.label",
                              f"column '{cfg.columns.label}' is not in split '{role}' "
                              f"(has: {', '.join(split.columns)})")
        cap = cfg.dataset.max_examples.get(role)  # part of the task: before any holdout is cut
        if cap is not None:
            split = _subsample(split, cap, role)
        split.name = role
        splits[role] = split
    for role, hold in cfg.dataset.holdout.items():
        splits[hold.source], splits[role] = _holdout(splits[hold.source], role, hold.fraction, cfg.columns.label,
                                                     source=src)
    if limit is not None:  # --limit caps every role last, so it never changes which rows are held out
        splits = {role: _subsample(split, limit, role) for role, split in splits.items()}

    if cfg.class_names:
        for role, split in splits.items():
            split.columns[cfg.columns.label] = label_indices(split.columns[cfg.columns.label], cfg.class_names,
                                                             source=src, role=role)
    train = splits.pop("train")
    test = splits.pop("test")
    labels = np.asarray(train.columns[cfg.columns.label])
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(src, "columns.label", f"labels are {labels.dtype} values such as {labels[0]!r}; "
                          "list them in class_names to map them to class indices")
    num_classes = cfg.num_classes or int(max(labels.max(), np.asarray(test.columns[cfg.columns.label]).max())) + 1

    ids_from_file = None
    if cfg.forget.strategy == "ids":
        ids_from_file = read_ids_file(_ids_path(loaded))
    forget_ids = select_forget_ids(train, labels, cfg.forget, source=src, ids_from_file=ids_from_file)
    if len(forget_ids) >= len(train):
        raise ConfigError(src, "forget", "the forget set would be the whole training set")
    labels_by_id = dict(zip(train.ids.tolist(), labels.tolist()))
    parts = split_requests(forget_ids, labels_by_id, cfg.requests, seed=cfg.forget.seed, source=src)

    requests = []
    forgotten_ids = np.zeros(0, dtype=np.int64)
    for i, part in enumerate(parts):
        forgotten_ids = np.union1d(forgotten_ids, part)
        requests.append(Request(
            index=i,
            forget=train.select_ids(part, "forget"),
            retain=train.drop_ids(forgotten_ids, "retain"),
            forgotten=train.select_ids(forgotten_ids, "forget"),
        ))
    return TaskData(train=train, test=test, requests=requests, num_classes=num_classes,
                    input_columns=list(cfg.columns.inputs), label_column=cfg.columns.label,
                    extra=splits, class_names=cfg.class_names)


def _ids_path(loaded: LoadedTask):
    return resolve_ids_file(loaded.config.forget.ids_file_for_ratio(), base=loaded.path.parent, source=str(loaded.path))
